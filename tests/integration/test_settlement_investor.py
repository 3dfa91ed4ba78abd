"""Investors see money, not people (docs/domain.md "Roles"): a statement's lines per month and kind
with no participant id, cells of fewer than 3 citizens suppressed in every form the investor gets, the
outcome figures of a track with fewer than 3 complete windows withheld; the jobcenter's view as it was."""

from __future__ import annotations

import csv
import io
import uuid
from typing import Any

from tests.integration.conftest import Trio, eventually
from tests.integration.test_settlement import (
    INVESTOR,
    JOBCENTER,
    PROGRAMME,
    cutoff,
    enrol,
    status,
    wait_for_fee,
)
from tests.issuing import issue

STATEMENTS = f"/v1/programmes/{PROGRAMME}/statements"
OUTCOMES = f"/v1/programmes/{PROGRAMME}/outcomes"


def cells(statement: dict[str, Any]) -> list[tuple[Any, ...]]:
    return [
        (c["month"], c["kind"], c["citizens"], c["amount_dkk"], c["suppressed"]) for c in statement["lines"]
    ]


async def test_an_investor_reads_lines_per_month_and_kind_and_small_cells_suppressed(trio: Trio) -> None:
    # A, B, C self-supporting from the enrolment on 15 March 2024; D from 1 June.
    citizens = [
        await enrol(trio, cpr) for cpr in ("010190-1234", "020290-2345", "030390-3456", "070761-4285")
    ]
    *abc, d = citizens
    for pid in abc:
        await status(trio, pid, "employed", "2024-03-15")
    await status(trio, d, "sygedagpenge", "2024-03-15", "2024-05-31")
    await status(trio, d, "employed", "2024-06-01")
    await cutoff(trio, "2024-07-31")
    for pid in citizens:
        await wait_for_fee(trio, pid, "2024-07", "3500.00")

    issued = await issue(trio.settlement, PROGRAMME, "2024-08", JOBCENTER)
    assert issued.status_code == 201, issued.text
    first = issued.json()
    # The jobcenter still reads a line per citizen and month.
    assert len(first["lines"]) == 13 and {line["participant_id"] for line in first["lines"]} == set(citizens)

    response = await trio.settlement.get(f"/v1/statements/{first['statement_id']}", headers=INVESTOR)
    assert response.status_code == 200, response.text
    seen = response.json()
    assert cells(seen) == [
        ("2024-03", "fee", 3, "5758.05", False),  # 3 x 3500 x 17/31
        ("2024-04", "fee", 3, "10500.00", False),
        ("2024-05", "fee", 3, "10500.00", False),
        ("2024-06", "fee", 4, "14000.00", False),
    ]
    assert seen["totals"] == first["totals"] and seen["totals"]["net"] == "40758.05"
    assert (seen["sha256"], seen["period"], seen["min_citizens"]) == (first["sha256"], "2024-08", 3)
    assert not any(pid in response.text for pid in citizens)
    assert not any(key in response.text for key in ("participant_id", "line_no", "corrects_"))

    # A late correction of D's June: the next statement's adjustment is one citizen's.
    await status(trio, d, "sygedagpenge", "2024-06-10", "2024-06-12")
    await wait_for_fee(trio, d, "2024-06", "0.00")
    issued = await issue(trio.settlement, PROGRAMME, "2024-09", JOBCENTER)
    second = issued.json()
    assert sorted((line["kind"], line["participant_id"], line["month"], line["amount_dkk"])
                  for line in second["lines"]) == sorted(
        [("adjustment", d, "2024-06", "-3500.00")] + [("fee", pid, "2024-07", "3500.00") for pid in citizens]
    )  # fmt: skip
    assert second["totals"]["net"] == "10500.00"

    seen = (await trio.settlement.get(f"/v1/statements/{second['statement_id']}", headers=INVESTOR)).json()
    # The adjustment cell (1 citizen) is suppressed; the fee cell beside it too, and the totals per
    # kind withheld, or the net minus July's fees would give D's adjustment back.
    assert cells(seen) == [
        ("2024-06", "adjustment", None, None, True),
        ("2024-07", "fee", None, None, True),
    ]
    assert (seen["totals"]["fees"], seen["totals"]["adjustments"]) == (None, None)
    assert (seen["totals"]["net"], seen["totals"]["investor"]) == ("10500.00", "6300.00")

    # Every other form: the list, and the CSV.
    listed = await trio.settlement.get(STATEMENTS, headers=INVESTOR)
    assert listed.status_code == 200
    assert [cells(s) for s in listed.json()["items"]] == [cells(s) for s in (await investor_views(trio))]
    assert not any(pid in listed.text for pid in citizens) and "participant_id" not in listed.text
    as_csv = await trio.settlement.get(
        f"/v1/statements/{second['statement_id']}", headers=INVESTOR | {"Accept": "text/csv"}
    )
    assert as_csv.status_code == 200 and not any(pid in as_csv.text for pid in citizens)
    rows = list(csv.reader(io.StringIO(as_csv.text)))
    assert rows[:3] == [
        ["month", "kind", "citizens", "amount_dkk", "suppressed"],
        ["2024-06", "adjustment", "", "", "true"],
        ["2024-07", "fee", "", "", "true"],
    ]
    assert ["net", "10500.00"] in rows and ["adjustments", ""] in rows
    assert ["sha256", second["sha256"]] in rows

    # The jobcenter's list and CSV are per citizen, as before.
    theirs = (await trio.settlement.get(STATEMENTS, headers=JOBCENTER)).json()["items"]
    assert [s["lines"] for s in theirs] == [first["lines"], second["lines"]]
    their_csv = await trio.settlement.get(
        f"/v1/statements/{second['statement_id']}", headers=JOBCENTER | {"Accept": "text/csv"}
    )
    assert f",adjustment,{d},2024-06,-3500.00,{first['statement_id']}," in their_csv.text


async def investor_views(trio: Trio) -> list[dict[str, Any]]:
    items = (await trio.settlement.get(STATEMENTS, headers=JOBCENTER)).json()["items"]
    return [
        (await trio.settlement.get(f"/v1/statements/{s['statement_id']}", headers=INVESTOR)).json()
        for s in items
    ]


async def test_an_investor_is_refused_months_before_anything_is_looked_up(trio: Trio) -> None:
    """403 whether or not the participant exists: the answer does not tell an investor which ids do."""
    pid = await enrol(trio, "070761-4285")
    for participant in (pid, str(uuid.uuid4())):
        for path in (f"/v1/participants/{participant}/months",
                     f"/v1/participants/{participant}/months/2024-05/explanation"):  # fmt: skip
            response = await trio.settlement.get(path, headers=INVESTOR)
            assert response.status_code == 403, (path, response.status_code)


async def test_outcome_figures_of_a_track_with_fewer_than_3_complete_windows_are_withheld(
    trio: Trio,
) -> None:
    """A: sygedagpenge to 30 April 2024, then employed; B: never self-supporting. With the cut-off on
    31 March 2026 both 104-week windows (from 15 March 2024) are complete: A's 7 first weeks hold a
    benefit day, so 97 and 0 self-supporting weeks."""
    a = await enrol(trio, "070761-4285")
    b = await enrol(trio, "010190-1234")
    await status(trio, a, "sygedagpenge", "2024-03-15", "2024-04-30")
    await status(trio, a, "employed", "2024-05-01")
    await status(trio, b, "kontanthjaelp", "2024-03-15")
    await cutoff(trio, "2026-03-31")
    await wait_for_fee(trio, a, "2026-02", "3500.00")
    await wait_for_fee(trio, b, "2026-02", "0.00")

    # Open-ended records decide the months without a cut-off: wait for the cut-off itself to be stored.
    async def cut_off() -> bool:
        response = await trio.settlement.get(
            f"/v1/participants/{a}/months/2026-02/explanation", headers=JOBCENTER
        )
        return response.status_code == 200 and response.json()["cutoff_used"] == "2026-03-31"

    await eventually(cut_off, timeout=15)
    theirs = (await trio.settlement.get(OUTCOMES, headers=JOBCENTER)).json()
    (track,) = [t for t in theirs["tracks"] if t["track"] == "sygedagpenge"]
    assert (track["windows_complete"], track["mean_weeks_complete_windows"]) == (2, "48.50")
    assert theirs["effect_weeks"] is not None

    response = await trio.settlement.get(OUTCOMES, headers=INVESTOR)
    assert response.status_code == 200, response.text
    seen = response.json()
    (track,) = [t for t in seen["tracks"] if t["track"] == "sygedagpenge"]
    assert track["mean_weeks_complete_windows"] is None
    assert track["mean_weeks_complete_windows_suppressed"]
    assert track["mean_weeks_projected"] is None and track["mean_weeks_projected_suppressed"]
    assert seen["suppressed"] and (seen["mean_weeks"], seen["effect_weeks"], seen["effect_ci95"]) == (
        None,
        None,
        None,
    )
    assert "48.50" not in response.text and a not in response.text
    as_csv = await trio.settlement.get(OUTCOMES, params={"format": "csv"}, headers=INVESTOR)
    rows = {r["track"]: r for r in csv.DictReader(io.StringIO(as_csv.text))}
    assert rows["sygedagpenge"]["mean_weeks_complete_windows"] == ""
    assert rows["sygedagpenge"]["mean_weeks_complete_windows_suppressed"] == "True"
