"""Dates inside the world (issue 25, item 1): every date the API takes lies in 1900-2100, a statement's
period is never later than the current month, a cut-off never later than today (Danish time), and a
mistaken cut-off is retracted: kept in the history, read as it was known, and the months invoiced
under it adjusted in the next statement."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

from libs.common.contracts import CutoffRetractedV1
from libs.common.dates import current_month_in_denmark, today_in_denmark
from tests.integration.conftest import Trio, eventually, outbox_events
from tests.integration.test_settlement import (
    JOBCENTER,
    PROGRAMME,
    cutoff,
    enrol,
    months,
    status,
    wait_for_fee,
)
from tests.issuing import issue

STATEMENTS = f"/v1/programmes/{PROGRAMME}/statements"
CUTOFF = f"/v1/programmes/{PROGRAMME}/data-cutoff"


def refused_naming(response: httpx.Response, field: str) -> bool:
    body = response.json()
    return (
        response.status_code == 422
        and response.headers["content-type"].startswith("application/problem+json")
        and any(error["field"] == field for error in body["errors"])
    )


def next_month() -> str:
    year, month = current_month_in_denmark()
    return f"{year + month // 12:04d}-{month % 12 + 1:02d}"


async def test_a_statement_for_a_month_that_has_not_begun_is_refused(trio: Trio) -> None:
    await enrol(trio, "070761-4285")

    async def known() -> bool:  # settlement learns the programme's terms by event
        return (await trio.settlement.get(STATEMENTS, headers=JOBCENTER)).status_code == 200

    await eventually(known)
    for period in ("9999-12", next_month(), "1899-12"):
        response = await issue(trio.settlement, PROGRAMME, period, JOBCENTER)
        assert refused_naming(response, "period"), (period, response.text)
    # Nothing was issued, so a real period is still open.
    assert (await trio.settlement.get(STATEMENTS, headers=JOBCENTER)).json()["items"] == []
    current = "{:04d}-{:02d}".format(*current_month_in_denmark())

    async def issued() -> bool:  # once settlement has the programme's terms (by event)
        response = await issue(trio.settlement, PROGRAMME, current, JOBCENTER)
        return response.status_code == 201

    await eventually(issued)


async def test_a_cutoff_later_than_today_or_outside_the_world_is_refused(trio: Trio) -> None:
    await enrol(trio, "070761-4285")
    tomorrow = (today_in_denmark() + timedelta(days=1)).isoformat()
    for day in ("9999-12-31", "2101-01-01", tomorrow):
        response = await trio.progression.put(CUTOFF, json={"complete_through": day}, headers=JOBCENTER)
        assert refused_naming(response, "complete_through"), (day, response.text)
    await cutoff(trio, today_in_denmark().isoformat())


async def test_status_records_and_intake_dates_outside_the_world_are_refused(trio: Trio) -> None:
    pid = await enrol(trio, "070761-4285")
    bodies: list[tuple[dict[str, Any], str]] = [
        ({"valid_from": "2024-03-15", "valid_to": "9999-12-31"}, "valid_to"),
        ({"valid_from": "1899-12-31"}, "valid_from"),
        ({"iso_week": "9999-W52"}, "iso_week"),
        ({"iso_week": "2100-W53"}, "iso_week"),  # 2100 has 52 ISO weeks: no such week
        ({"iso_week": "1900-W01"}, "iso_week"),  # its Monday is 1900-01-01: allowed
    ]
    for fields, field in bodies:
        body = {"participant_id": pid, "code": "employed"} | fields
        response = await trio.progression.post("/v1/status-records", json=body, headers=JOBCENTER)
        if fields.get("iso_week") == "1900-W01":
            assert response.status_code in (201, 404), response.text  # accepted (or not yet known)
        else:
            assert refused_naming(response, field), (fields, response.text)
    referral = {
        "programme_id": PROGRAMME,
        "cpr": "010190-1235",
        "track": "sygedagpenge",
        "referred_on": "1899-12-31",
    }
    response = await trio.intake.post("/v1/participants", json=referral, headers=JOBCENTER)
    assert refused_naming(response, "referred_on"), response.text


async def test_a_mistaken_cutoff_is_retracted_and_the_months_invoiced_under_it_are_adjusted(
    trio: Trio,
) -> None:
    pid = await enrol(trio, "070761-4285")
    await status(trio, pid, "sygedagpenge", "2024-03-15", "2024-04-30")
    await status(trio, pid, "employed", "2024-05-01", "2024-06-30")
    await cutoff(trio, "2024-06-30")
    # A typo: September instead of June. July to September have no record, so they count as
    # self-supporting and are invoiced.
    await cutoff(trio, "2024-09-30")
    await wait_for_fee(trio, pid, "2024-09", "3500.00")
    mistaken = await issue(trio.settlement, PROGRAMME, "2024-11", JOBCENTER)
    assert mistaken.status_code == 201, mistaken.text
    invoiced = {line["month"]: line for line in mistaken.json()["lines"]}
    assert [(m, invoiced[m]["amount_dkk"]) for m in sorted(invoiced)] == [
        (m, "3500.00") for m in ("2024-05", "2024-06", "2024-07", "2024-08", "2024-09")
    ]
    before_retraction = datetime.now(UTC)

    reason = "Typo: the register was complete through June, not September"
    retraction = {"complete_through": "2024-06-30", "reason": reason}
    url = f"{CUTOFF}/retractions"
    # Forward is no retraction, and a reason may not carry a CPR number.
    later = await trio.progression.post(
        url, json=retraction | {"complete_through": "2024-10-31"}, headers=JOBCENTER
    )
    assert later.status_code == 409, later.text
    with_cpr = await trio.progression.post(
        url, json=retraction | {"reason": "see 070761-4285"}, headers=JOBCENTER
    )
    assert refused_naming(with_cpr, "reason") and "070761" not in with_cpr.text
    # An advance cannot take it back either: only a retraction, which says why.
    assert (
        await trio.progression.put(CUTOFF, json={"complete_through": "2024-06-30"}, headers=JOBCENTER)
    ).status_code == 409

    created = await trio.progression.post(url, json=retraction, headers=JOBCENTER)
    assert created.status_code == 201, created.text
    fact = created.json()
    assert (fact["kind"], fact["complete_through"], fact["previous"], fact["reason"]) == (
        "retracted",
        "2024-06-30",
        "2024-09-30",
        reason,
    )
    retried = await trio.progression.post(url, json=retraction, headers=JOBCENTER)
    assert retried.status_code == 200 and retried.json() == fact

    history = (await trio.progression.get(f"{CUTOFF}/history", headers=JOBCENTER)).json()["items"]
    assert [(h["kind"], h["complete_through"]) for h in history] == [
        ("advanced", "2024-06-30"),
        ("advanced", "2024-09-30"),
        ("retracted", "2024-06-30"),
    ]
    events = [e for e in await outbox_events(trio.progression) if e.type == CutoffRetractedV1.event_type]
    assert len(events) == 1 and events[0].data["reason"] == reason

    # Read as of a moment before the retraction, the timeline shows the mistaken view; now, the truth.
    timeline_url = f"/v1/participants/{pid}/timeline"
    far = await trio.progression.get(
        timeline_url, params={"as_of": "9999-12-31T00:00:00Z"}, headers=JOBCENTER
    )
    assert refused_naming(far, "as_of"), far.text
    then = await trio.progression.get(
        timeline_url, params={"as_of": before_retraction.isoformat()}, headers=JOBCENTER
    )
    now = await trio.progression.get(timeline_url, headers=JOBCENTER)
    assert then.json()["data_complete_through"] == "2024-09-30"
    assert now.json()["data_complete_through"] == "2024-06-30"
    assert any(p["category"] == "self_supporting" and p["to"] == "2024-09-30" for p in then.json()["periods"])
    assert any(p["category"] == "unknown" and p["from"] == "2024-07-01" for p in now.json()["periods"])

    # Settlement recomputes: July to September are provisional again (never invoiced), and the next
    # statement brings each of them back to what it may carry now: nothing.
    await wait_for_fee(trio, pid, "2024-07", "0.00", provisional=True)
    corrected = await issue(trio.settlement, PROGRAMME, "2024-12", JOBCENTER)
    assert corrected.status_code == 201, corrected.text
    lines = corrected.json()["lines"]
    assert [(line["kind"], line["month"], line["amount_dkk"]) for line in lines] == [
        ("adjustment", m, "-3500.00") for m in ("2024-07", "2024-08", "2024-09")
    ]
    for line in lines:
        assert (line["corrects_statement_id"], line["corrects_line_no"]) == (
            mistaken.json()["statement_id"],
            invoiced[line["month"]]["line_no"],
        )

    async def invoiced_equals_fee() -> bool:
        by_month = await months(trio, pid)
        return all(
            by_month[m]["invoiced_dkk"] == ("0.00" if by_month[m]["provisional"] else by_month[m]["fee_dkk"])
            for m in ("2024-05", "2024-06", "2024-07", "2024-08", "2024-09")
        )

    await eventually(invoiced_equals_fee)
