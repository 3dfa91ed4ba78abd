"""The data-quality monitor on a small hand-made programme (issue 27, item 6), whose figures are stated
here: discrepancies both ways, late records, the cut-off's lag (progression), and corrections of
invoiced months (settlement). The posting times are set in the database after posting, so the figures
do not depend on the day the test runs."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import update

from libs.common.auth import Role
from libs.common.uow import UnitOfWork
from services.progression.models import CutoffRow, MilestoneRow, StatusRecordRow
from tests.integration.conftest import Pair, Trio, auth
from tests.integration.test_progression import ADMIN, JOBCENTER, PROGRAMME, PROVIDER, enrolled_participant
from tests.integration.test_settlement import cutoff, enrol, status, wait_for_fee
from tests.issuing import issue

INVESTOR = auth(Role.investor, PROGRAMME)
INTEGRATOR = auth(Role.integrator, PROGRAMME)
DATA_QUALITY = f"/v1/programmes/{PROGRAMME}/data-quality"
CORRECTIONS = f"/v1/programmes/{PROGRAMME}/corrections"


def noon(day: str) -> datetime:
    """Noon UTC: the same day in Denmark."""
    return datetime.fromisoformat(day).replace(hour=12, tzinfo=UTC)


async def record(pair: Pair, pid: str, code: str, valid_from: str, valid_to: str | None, posted: str) -> None:
    body = {"participant_id": pid, "code": code, "valid_from": valid_from} | (
        {"valid_to": valid_to} if valid_to else {}
    )
    response = await pair.progression.post("/v1/status-records", json=body, headers=JOBCENTER)
    assert response.status_code == 201, response.text
    await rewrite(pair, StatusRecordRow, StatusRecordRow.record_id == response.json()["record_id"], posted)


async def milestone(pair: Pair, pid: str, kind: str, on: str, posted: str) -> None:
    response = await pair.progression.post(
        f"/v1/participants/{pid}/milestones", json={"kind": kind, "on": on}, headers=PROVIDER
    )
    assert response.status_code == 201, response.text
    await rewrite(pair, MilestoneRow, MilestoneRow.milestone_id == response.json()["milestone_id"], posted)


async def move_cutoff(pair: Pair, through: str, posted: str) -> None:
    response = await pair.progression.put(
        f"/v1/programmes/{PROGRAMME}/data-cutoff", json={"complete_through": through}, headers=JOBCENTER
    )
    assert response.status_code == 200, response.text
    await rewrite(pair, CutoffRow, CutoffRow.seq == response.json()["seq"], posted)


async def rewrite(pair: Pair, table: Any, where: Any, posted: str) -> None:
    async with UnitOfWork(pair.progression.app.state.database) as uow:
        await uow.session.execute(update(table).where(where).values(recorded_at=noon(posted)))
        await uow.commit()


async def test_the_monitor_states_the_discrepancies_late_records_and_cutoff_lag_of_a_hand_made_programme(
    pair: Pair,
) -> None:
    a, b, c, d = [
        await enrolled_participant(pair, cpr)
        for cpr in ("010190-1234", "020290-2345", "030390-3456", "070761-4285")
    ]
    # A: sickness benefit to 30 April (posted 25 April: on time), employed from 1 May (posted 10 June:
    # its period ends, being open, on its first day, so 10 days after 31 May); job_start on 28 April.
    await record(pair, a, "sygedagpenge", "2024-03-15", "2024-04-30", "2024-04-25")
    await record(pair, a, "employed", "2024-05-01", None, "2024-06-10")
    await milestone(pair, a, "job_start", "2024-04-28", "2024-04-29")
    # B: sickness benefit open-ended from 15 March (posted 20 March: on time); fit_for_work on 1 May.
    await record(pair, b, "sygedagpenge", "2024-03-15", None, "2024-03-20")
    await milestone(pair, b, "fit_for_work", "2024-05-01", "2024-05-02")
    # C: sickness benefit to 15 May, posted on 31 May (the month's last day: on time); no record after.
    await record(pair, c, "sygedagpenge", "2024-03-15", "2024-05-15", "2024-05-31")
    # C's job_start on 20 May, posted on 10 September: after as_of, so not seen by the reading below.
    await milestone(pair, c, "job_start", "2024-05-20", "2024-09-10")
    # D: sickness benefit to 30 June, posted 30 July (30 days late); education_start on 20 June; a
    # visitation (no exit); and a record posted after as_of, which the reading must not see.
    await record(pair, d, "sygedagpenge", "2024-03-15", "2024-06-30", "2024-07-30")
    await milestone(pair, d, "education_start", "2024-06-20", "2024-06-21")
    await milestone(pair, d, "visitation", "2024-03-20", "2024-03-21")
    await record(pair, d, "employed", "2024-06-01", None, "2024-09-15")
    # The cut-off: through 31 May on 12 June, through 30 June on 25 July.
    await move_cutoff(pair, "2024-05-31", "2024-06-12")
    await move_cutoff(pair, "2024-06-30", "2024-07-25")

    response = await pair.progression.get(DATA_QUALITY, params={"as_of": "2024-08-31"}, headers=JOBCENTER)
    assert response.status_code == 200, response.text
    seen = response.json()
    # B: public support on 29 May, 4 weeks after fit_for_work. C: self-supporting from 16 May (no
    # record covers it, before the cut-off) with no exit milestone within 4 weeks either side; checked
    # on 13 June. A turned on 1 May with job_start 3 days before and is self-supporting on 26 May: no
    # finding. D's education_start is checked on 18 July, after the cut-off: unknown, not yet a finding.
    expected = [
        {
            "participant_id": b,
            "kind": "milestone_still_supported",
            "milestone_id": next(x for x in seen["discrepancies"] if x["participant_id"] == b)[
                "milestone_id"
            ],
            "milestone_kind": "fit_for_work",
            "milestone_on": "2024-05-01",
            "turned_on": None,
            "checked_on": "2024-05-29",
            "feed": "jobcenter-hedensted",
        },
        {
            "participant_id": c,
            "kind": "exit_without_milestone",
            "milestone_id": None,
            "milestone_kind": None,
            "milestone_on": None,
            "turned_on": "2024-05-16",
            "checked_on": "2024-06-13",
            "feed": "jobcenter-hedensted",
        },
    ]
    assert seen["discrepancies"] == sorted(expected, key=lambda x: x["participant_id"])  # in id order
    assert seen["discrepancy_counts"] == {
        "milestone_still_supported": 1,
        "exit_without_milestone": 1,
        "total": 2,
    }
    # Five records as of 31 August; A's second (10 days) and D's first (30 days) are late: 2 of 5.
    assert seen["late_records"] == {
        "records": 5,
        "late": 2,
        "share_late": "0.4000",
        "mean_days_late": "20.0",
        "max_days_late": 30,
    }
    assert seen["late_records_by_month"] == [
        {"month": "2024-03", "records": 1, "late": 0, "share_late": "0.0000", "mean_days_late": None, "max_days_late": 0},
        {"month": "2024-04", "records": 1, "late": 0, "share_late": "0.0000", "mean_days_late": None, "max_days_late": 0},
        {"month": "2024-05", "records": 2, "late": 1, "share_late": "0.5000", "mean_days_late": "10.0", "max_days_late": 10},
        {"month": "2024-06", "records": 1, "late": 1, "share_late": "1.0000", "mean_days_late": "30.0", "max_days_late": 30},
    ]  # fmt: skip
    # May covered on 12 June (12 days after its end), June on 25 July (25 days); on 31 August the
    # cut-off (30 June) is 62 days behind.
    assert seen["cutoff"] == {
        "complete_through": "2024-06-30",
        "behind_days": 62,
        "months": [
            {"month": "2024-05", "covered_on": "2024-06-12", "lag_days": 12},
            {"month": "2024-06", "covered_on": "2024-07-25", "lag_days": 25},
        ],
    }

    # Eight weeks: B is still on benefit on 26 June; C's turn (16 May) has no exit milestone within
    # eight weeks either, checked on 11 July; A's turn (1 May) has job_start 3 days before.
    eight = (await pair.progression.get(
        DATA_QUALITY, params={"as_of": "2024-08-31", "discrepancy_weeks": 8}, headers=JOBCENTER
    )).json()  # fmt: skip
    assert [(x["participant_id"], x["checked_on"]) for x in eight["discrepancies"]] == sorted(
        [(b, "2024-06-26"), (c, "2024-07-11")]
    )

    # The investor: counts of 1 citizen are withheld, and no participant at all.
    theirs = await pair.progression.get(DATA_QUALITY, params={"as_of": "2024-08-31"}, headers=INVESTOR)
    assert theirs.status_code == 200
    assert theirs.json()["discrepancy_counts"] == {
        "milestone_still_supported": None,
        "exit_without_milestone": None,
        "total": None,
    }
    assert theirs.json()["late_records"] == seen["late_records"] and theirs.json()["cutoff"] == seen["cutoff"]
    assert not any(pid in theirs.text for pid in (a, b, c, d)) and "discrepancies" not in theirs.json()

    # CSV: the same figures as rows.
    as_csv = await pair.progression.get(
        DATA_QUALITY, params={"as_of": "2024-08-31"}, headers=ADMIN | {"Accept": "text/csv"}
    )
    assert as_csv.status_code == 200 and as_csv.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(as_csv.text)))
    assert [(r["participant_id"], r["kind"]) for r in rows if r["section"] == "discrepancy"] == sorted(
        [(b, "milestone_still_supported"), (c, "exit_without_milestone")]
    )
    total = next(r for r in rows if r["section"] == "late_records")
    assert (total["records"], total["late"], total["share_late"]) == ("5", "2", "0.4000")
    assert [(r["month"], r["lag_days"]) for r in rows if r["section"] == "cutoff_lag"] == [
        ("2024-05", "12"),
        ("2024-06", "25"),
    ]

    # Read today, D's later record is seen: 6 records, 3 late.
    assert (await pair.progression.get(DATA_QUALITY, headers=JOBCENTER)).json()["late_records"][
        "records"
    ] == 6
    for params, field in (
        ({"discrepancy_weeks": 0}, "discrepancy_weeks"),
        ({"as_of": "2100-01-01"}, "as_of"),
    ):
        refused = await pair.progression.get(DATA_QUALITY, params=params, headers=JOBCENTER)
        assert refused.status_code == 422 and refused.json()["errors"][0]["field"] == field
    assert (await pair.progression.get(DATA_QUALITY, headers=INTEGRATOR)).status_code == 403
    other = auth(Role.jobcenter, "another-programme")
    assert (await pair.progression.get(DATA_QUALITY, headers=other)).status_code == 404


async def test_corrections_of_invoiced_months_are_counted_and_summed_per_statement_and_month(
    trio: Trio,
) -> None:
    citizens = [
        await enrol(trio, cpr) for cpr in ("010190-1234", "020290-2345", "030390-3456", "070761-4285")
    ]
    for pid in citizens:
        await status(trio, pid, "employed", "2024-03-15")
    await cutoff(trio, "2024-07-31")
    for pid in citizens:
        await wait_for_fee(trio, pid, "2024-07", "3500.00")
    issued = await issue(trio.settlement, PROGRAMME, "2024-08", JOBCENTER)
    assert issued.status_code == 201, issued.text
    first = issued.json()["statement_id"]
    # Late corrections: a few days of sickness benefit in June for A and B, and in May for C; under
    # full_month each month's fee (3,500.00) falls to 0, so the next statement adjusts them by -3,500.00.
    a, b, c, _ = citizens
    await status(trio, a, "sygedagpenge", "2024-06-10", "2024-06-12")
    await status(trio, b, "sygedagpenge", "2024-06-03", "2024-06-04")
    await status(trio, c, "sygedagpenge", "2024-05-20", "2024-05-21")
    for pid, month in ((a, "2024-06"), (b, "2024-06"), (c, "2024-05")):
        await wait_for_fee(trio, pid, month, "0.00")
    issued = await issue(trio.settlement, PROGRAMME, "2024-09", JOBCENTER)
    second = issued.json()["statement_id"]

    response = await trio.settlement.get(CORRECTIONS, headers=JOBCENTER)
    assert response.status_code == 200, response.text
    # Nothing corrected in the first statement; three lines of -3,500.00 in the second: one for May,
    # two for June.
    assert response.json() == {
        "programme_id": PROGRAMME,
        "lines": 3,
        "citizens": 3,
        "amount_dkk": "-10500.00",
        "suppressed": False,
        "statements": [
            {"statement_id": first, "period": "2024-08", "lines": 0, "citizens": 0, "amount_dkk": "0.00", "months": []},
            {
                "statement_id": second,
                "period": "2024-09",
                "lines": 3,
                "citizens": 3,
                "amount_dkk": "-10500.00",
                "months": [
                    {"month": "2024-05", "lines": 1, "amount_dkk": "-3500.00"},
                    {"month": "2024-06", "lines": 2, "amount_dkk": "-7000.00"},
                ],
            },
        ],
    }  # fmt: skip
    # The investor: the months (1 and 2 lines) withheld; the statement's 3 citizens and the totals shown.
    theirs = (await trio.settlement.get(CORRECTIONS, headers=INVESTOR)).json()
    assert theirs["statements"][1]["months"] == [
        {"month": "2024-05", "lines": None, "amount_dkk": None},
        {"month": "2024-06", "lines": None, "amount_dkk": None},
    ]
    assert (theirs["amount_dkk"], theirs["statements"][1]["amount_dkk"], theirs["suppressed"]) == (
        "-10500.00",
        "-10500.00",
        True,
    )
    as_csv = await trio.settlement.get(CORRECTIONS, params={"format": "csv"}, headers=JOBCENTER)
    rows = list(csv.reader(io.StringIO(as_csv.text)))
    assert rows[0] == ["statement_id", "period", "month", "lines", "amount_dkk"]
    assert [second, "2024-09", "2024-06", "2", "-7000.00"] in rows and [
        "total",
        "",
        "",
        "3",
        "-10500.00",
    ] in rows
    assert (await trio.settlement.get(CORRECTIONS, headers=INTEGRATOR)).status_code == 403
    missing = "/v1/programmes/nowhere/corrections"
    assert (await trio.settlement.get(missing, headers=ADMIN)).status_code == 404
