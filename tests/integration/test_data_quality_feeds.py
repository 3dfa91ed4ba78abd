"""The data-quality monitor per jobcenter feed (issue 27, item 6: "per programme and jobcenter feed"):
a small hand-made programme whose records come from two jobcenter tokens (two subjects, two feeds) and
one record from before the poster was kept (feed "unknown"), with its figures stated here. Posting
times are set in the database after posting, so the figures do not depend on the day the test runs."""

from __future__ import annotations

import csv
import io

from sqlalchemy import select, update

from libs.common.auth import Role
from libs.common.uow import UnitOfWork
from services.progression.models import StatusRecordRow
from tests.integration.conftest import Pair, auth
from tests.integration.test_data_quality import DATA_QUALITY, INVESTOR, milestone, move_cutoff, rewrite
from tests.integration.test_progression import ADMIN, JOBCENTER, PROGRAMME, enrolled_participant

HEDENSTED = "jobcenter-hedensted"  # JOBCENTER's subject
HORSENS = "jobcenter-horsens"
SECOND_FEED = auth(Role.jobcenter, PROGRAMME, subject=HORSENS)
AS_OF = {"as_of": "2024-08-31"}


async def post(
    pair: Pair,
    headers: dict[str, str],
    pid: str,
    code: str,
    valid_from: str,
    valid_to: str | None,
    posted: str,
) -> str:
    body = {"participant_id": pid, "code": code, "valid_from": valid_from} | (
        {"valid_to": valid_to} if valid_to else {}
    )
    response = await pair.progression.post("/v1/status-records", json=body, headers=headers)
    assert response.status_code == 201, response.text
    record_id = str(response.json()["record_id"])
    await rewrite(pair, StatusRecordRow, StatusRecordRow.record_id == record_id, posted)
    return record_id


async def test_lateness_and_discrepancies_are_given_per_jobcenter_feed_and_the_investor_gets_them_under_the_small_cell_rule(
    pair: Pair,
) -> None:
    a, b, c, d, e, f = [
        await enrolled_participant(pair, cpr)
        for cpr in ("010190-1234", "020290-2345", "030390-3456", "070761-4285", "150390-2345", "020285-1235")
    ]
    # Feed jobcenter-hedensted: A, B, C on sickness benefit in March; A's posted 5 April (5 days late),
    # B's 28 March (on time), C's 15 April (15 days late): 3 records, 2 late, 10.0 days on average.
    await post(pair, JOBCENTER, a, "sygedagpenge", "2024-03-01", "2024-03-31", "2024-04-05")
    await post(pair, JOBCENTER, b, "sygedagpenge", "2024-03-01", "2024-03-31", "2024-03-28")
    await post(pair, JOBCENTER, c, "sygedagpenge", "2024-03-01", "2024-03-31", "2024-04-15")
    # Feed jobcenter-horsens: A employed from 1 April (open-ended, so due by 30 April; posted 3 May: 3
    # days late), D on sickness benefit open-ended from 1 March (on time), E to 30 April (posted 20 May:
    # 20 days late): 3 records, 2 late, 11.5 days on average, at most 20.
    await post(pair, SECOND_FEED, a, "employed", "2024-04-01", None, "2024-05-03")
    await post(pair, SECOND_FEED, d, "sygedagpenge", "2024-03-01", None, "2024-03-05")
    await post(pair, SECOND_FEED, e, "sygedagpenge", "2024-03-01", "2024-04-30", "2024-05-20")
    # F's record is from before the poster was kept: its recorded_by is null (feed "unknown"), on time.
    legacy = await post(pair, JOBCENTER, f, "sygedagpenge", "2024-03-01", "2024-03-31", "2024-03-31")
    async with UnitOfWork(pair.progression.app.state.database) as uow:
        posters = dict((await uow.session.execute(select(StatusRecordRow.participant_id, StatusRecordRow.recorded_by).where(StatusRecordRow.participant_id.in_([b, d])))).all())  # fmt: skip
        await uow.session.execute(
            update(StatusRecordRow).where(StatusRecordRow.record_id == legacy).values(recorded_by=None)
        )
        await uow.commit()
    assert posters == {b: HEDENSTED, d: HORSENS}  # the write keeps the token's subject
    # Exit milestones: B's and F's within the window of their turn (no finding); D's fit_for_work on
    # 1 April while D's open-ended record (horsens) still shows public support on 29 April.
    await milestone(pair, b, "job_start", "2024-04-02", "2024-04-03")
    await milestone(pair, f, "job_start", "2024-04-01", "2024-04-02")
    await milestone(pair, d, "fit_for_work", "2024-04-01", "2024-04-02")
    await move_cutoff(pair, "2024-04-30", "2024-05-10")

    seen = (await pair.progression.get(DATA_QUALITY, params=AS_OF, headers=JOBCENTER)).json()
    # The programme: 7 records, 4 late (5, 15, 3, 20 days: 43 / 4 = 10.75, shown 10.8).
    assert seen["late_records"] == {
        "records": 7, "late": 4, "share_late": "0.5714", "mean_days_late": "10.8", "max_days_late": 20
    }  # fmt: skip
    assert seen["late_records_by_feed"] == [
        {"feed": HEDENSTED, "records": 3, "late": 2, "share_late": "0.6667", "mean_days_late": "10.0", "max_days_late": 15},
        {"feed": HORSENS, "records": 3, "late": 2, "share_late": "0.6667", "mean_days_late": "11.5", "max_days_late": 20},
        {"feed": "unknown", "records": 1, "late": 0, "share_late": "0.0000", "mean_days_late": None, "max_days_late": 0},
    ]  # fmt: skip
    # A turns self-supporting on 1 April by horsens' employed record, with no exit milestone: horsens.
    # C's hedensted record ends on 31 March and the cut-off covers April: C's turn rests on hedensted.
    # D's milestone is contradicted by horsens' record. B's and F's turns have their job_start.
    assert sorted((x["participant_id"], x["kind"], x["feed"]) for x in seen["discrepancies"]) == sorted(
        [
            (a, "exit_without_milestone", HORSENS),
            (c, "exit_without_milestone", HEDENSTED),
            (d, "milestone_still_supported", HORSENS),
        ]
    )
    assert seen["discrepancy_counts"] == {
        "milestone_still_supported": 1,
        "exit_without_milestone": 2,
        "total": 3,
    }
    assert seen["discrepancy_counts_by_feed"] == {HEDENSTED: 1, HORSENS: 2, "unknown": 0}

    # The investor: "unknown" (F alone) is withheld, and as F is one citizen the smallest shown feed is
    # withheld too (hedensted and horsens both hold 3 citizens; hedensted first by name), so the total
    # minus horsens gives the figures of 4 citizens, never fewer than 3. Discrepancies: 1 and 2 citizens.
    theirs = (await pair.progression.get(DATA_QUALITY, params=AS_OF, headers=INVESTOR)).json()
    withheld = {
        "records": None,
        "late": None,
        "share_late": None,
        "mean_days_late": None,
        "max_days_late": None,
    }
    assert theirs["late_records"] == seen["late_records"]
    assert theirs["late_records_by_feed"] == [
        {"feed": HEDENSTED} | withheld,
        seen["late_records_by_feed"][1],
        {"feed": "unknown"} | withheld,
    ]
    assert theirs["discrepancy_counts_by_feed"] == {HEDENSTED: None, HORSENS: None, "unknown": 0}
    assert not any(pid in str(theirs) for pid in (a, b, c, d, e, f)) and "discrepancies" not in theirs

    # CSV: a row per feed in each per-feed section, and each discrepancy with its feed.
    as_csv = await pair.progression.get(DATA_QUALITY, params=AS_OF | {"format": "csv"}, headers=ADMIN)
    rows = list(csv.DictReader(io.StringIO(as_csv.text)))
    assert [
        (r["feed"], r["records"], r["late"], r["share_late"], r["mean_days_late"], r["max_days_late"])
        for r in rows
        if r["section"] == "late_records_by_feed"
    ] == [
        (HEDENSTED, "3", "2", "0.6667", "10.0", "15"),
        (HORSENS, "3", "2", "0.6667", "11.5", "20"),
        ("unknown", "1", "0", "0.0000", "", "0"),
    ]
    assert [(r["feed"], r["citizens"]) for r in rows if r["section"] == "discrepancy_count_by_feed"] == [
        (HEDENSTED, "1"),
        (HORSENS, "2"),
        ("unknown", "0"),
    ]
    assert sorted((r["participant_id"], r["feed"]) for r in rows if r["section"] == "discrepancy") == sorted(
        [(a, HORSENS), (c, HEDENSTED), (d, HORSENS)]
    )
