"""Disputes of issued statements with intake, progression and settlement beside each other (real
database, real nats-server): an upheld dispute's correction refers to it (a later one does not), a
rejected one releases its held amount, only the opener withdraws, the window closes, no CPR gets in."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest

from libs.common.auth import Principal, Role
from libs.common.clock import utcnow
from libs.common.contracts import DisputeOpenedV1, DisputeResolvedV1
from services.settlement.domain.statements import content_hash
from services.settlement.repository import DisputeRepository
from services.settlement.services import statements
from services.settlement.services.disputes import opening
from tests import issuing
from tests.integration.conftest import Trio, auth, outbox_events
from tests.integration.test_settlement import (
    JOBCENTER,
    PROGRAMME,
    PROVIDER,
    cutoff,
    enrol,
    months,
    status,
    wait_for_fee,
)

INVESTOR = auth(Role.investor, PROGRAMME, subject="fund-analyst")
FINANCE = auth(Role.finance, PROGRAMME, subject="finance-officer")
OTHER_PROVIDER = auth(Role.provider, PROGRAMME, subject="another-coach")
CPRS = ("070761-4285", "010203-1234", "150585-2468")


async def issue(settlement: Any, period: str) -> dict[str, Any]:
    """Issue the statement of a period: drafted by the jobcenter, approved by finance."""
    response = await issuing.issue(settlement, PROGRAMME, period, JOBCENTER)
    assert response.status_code in (200, 201), response.text
    return dict(response.json())


async def three_employed(trio: Trio) -> tuple[list[str], dict[str, Any]]:
    """Three citizens self-supporting from their enrolment (2024-03-15), data complete through July;
    the statement of 2024-08 (covering March to June: a fee line per citizen and month)."""
    pids = [await enrol(trio, cpr) for cpr in CPRS]
    for pid in pids:
        await status(trio, pid, "employed", "2024-03-15")
    await cutoff(trio, "2024-07-31")
    for pid in pids:
        await wait_for_fee(trio, pid, "2024-07", "3500.00")
    return pids, await issue(trio.settlement, "2024-08")


def line_of(statement: dict[str, Any], pid: str, month: str) -> dict[str, Any]:
    return next(x for x in statement["lines"] if (x["participant_id"], x["month"]) == (pid, month))


async def held(trio: Trio) -> dict[str, Decimal]:
    async with trio.settlement.app.state.database.sessionmaker() as session:
        return await DisputeRepository(session).held_by_creditor(PROGRAMME)


def opening_body(**target: Any) -> dict[str, Any]:
    return {"reason_code": "status_wrong", "text": "She was on sick leave 10-12 June.", **target}


async def test_an_upheld_dispute_is_referred_to_by_the_adjustment_that_corrects_it(trio: Trio) -> None:
    pids, statement = await three_employed(trio)
    june = line_of(statement, pids[0], "2024-06")
    url = f"/v1/statements/{statement['statement_id']}/disputes"
    body = opening_body(line_no=june["line_no"], evidence={"status_record_ids": [], "milestone_ids": []})
    opened = await trio.settlement.post(url, json=body, headers=PROVIDER)
    assert opened.status_code == 201, opened.text
    dispute = opened.json()
    assert (dispute["state"], dispute["held"], dispute["amount_dkk"]) == ("open", True, "3500.00")
    # 60 % to the investor, as statements split.
    assert await held(trio) == {"investor": Decimal("2100.00"), "provider": Decimal("1400.00")}
    # Finance's receivables show it held back from each creditor.
    receivables = await trio.settlement.get(f"/v1/programmes/{PROGRAMME}/receivables", headers=FINANCE)
    assert {r["creditor"]: r["held_by_disputes_dkk"] for r in receivables.json()["items"]} == {
        "investor": "2100.00", "provider": "1400.00",
    }  # fmt: skip
    again = await trio.settlement.post(url, json=body, headers=PROVIDER)
    assert (again.status_code, again.json()["dispute_id"]) == (200, dispute["dispute_id"])
    taken = await trio.settlement.post(url, json=body, headers=OTHER_PROVIDER)
    assert taken.status_code == 409 and taken.json()["dispute_id"] == dispute["dispute_id"]

    # One citizen's line: the investor sees neither its amount nor the held totals it would give.
    as_investor = (
        await trio.settlement.get(f"/v1/disputes/{dispute['dispute_id']}", headers=INVESTOR)
    ).json()
    assert (as_investor["amount_dkk"], as_investor["amounts_suppressed"], as_investor["text"]) == (
        None,
        True,
        None,
    )
    listed = (await trio.settlement.get(f"/v1/programmes/{PROGRAMME}/disputes", headers=INVESTOR)).json()
    assert listed["held"]["suppressed"] is True and listed["held"]["held_dkk"] is None
    as_finance = (await trio.settlement.get(f"/v1/disputes/{dispute['dispute_id']}", headers=FINANCE)).json()
    # Finance reviews statements line by line (participant ids, never a person): it sees the line too.
    assert (as_finance["amount_dkk"], as_finance["line_no"]) == ("3500.00", dispute["line_no"])
    assert [x["participant_id"] for x in as_finance["lines"]] == [
        x["participant_id"] for x in dispute["lines"]
    ]

    resolution = f"/v1/disputes/{dispute['dispute_id']}/resolution"
    upheld = await trio.settlement.post(resolution, json={"outcome": "upheld"}, headers=JOBCENTER)
    assert upheld.status_code == 200 and upheld.json()["state"] == "upheld"
    assert [(s["step"], s["by"], s["by_role"]) for s in upheld.json()["steps"]] == [
        ("opened", "dev-provider", "provider"), ("upheld", "jobcenter-hedensted", "jobcenter"),
    ]  # fmt: skip
    assert await held(trio) == {"investor": Decimal("0.00"), "provider": Decimal("0.00")}
    rejected = await trio.settlement.post(
        resolution, json={"outcome": "rejected", "reason": "no"}, headers=JOBCENTER
    )
    assert rejected.status_code == 409

    # The jobcenter posts the corrected status; the next statement corrects June and names the dispute.
    await status(trio, pids[0], "sygedagpenge", "2024-06-10", "2024-06-12")
    await wait_for_fee(trio, pids[0], "2024-06", "0.00")
    second = await issue(trio.settlement, "2024-09")
    adjustment = line_of(second, pids[0], "2024-06")
    assert (adjustment["kind"], adjustment["amount_dkk"]) == ("adjustment", "-3500.00")
    assert adjustment["dispute_id"] == dispute["dispute_id"]
    assert (adjustment["corrects_statement_id"], adjustment["corrects_line_no"]) == (
        statement["statement_id"], june["line_no"],
    )  # fmt: skip
    assert [x for x in second["lines"] if "dispute_id" in x] == [adjustment]
    # The reference is no part of the issued document: its sha256 is that of the lines without it.
    reader = Principal("jobcenter-hedensted", Role.jobcenter, frozenset({PROGRAMME}))
    document = await statements.get_statement(
        trio.settlement.app.state.database, reader, second["statement_id"]
    )
    assert [x.get("dispute_id") for x in document["lines"]] == [x.get("dispute_id") for x in second["lines"]]
    issued = {k: document[k] for k in document["hashed"]}
    issued["lines"] = [{k: v for k, v in x.items() if k != "dispute_id"} for x in document["lines"]]
    assert content_hash(issued) == second["sha256"]

    # A later, unrelated correction of the same (citizen, month) corrects the second statement's
    # adjustment, not the disputed line: it names no dispute.
    await status(trio, pids[0], "employed", "2024-06-10", "2024-06-12")
    await wait_for_fee(trio, pids[0], "2024-06", "3500.00")
    third = await issue(trio.settlement, "2024-10")
    later = line_of(third, pids[0], "2024-06")
    assert (later["kind"], later["amount_dkk"]) == ("adjustment", "3500.00")
    assert (later["corrects_statement_id"], later["corrects_line_no"]) == (
        second["statement_id"], adjustment["line_no"],
    )  # fmt: skip
    assert [x for x in third["lines"] if "dispute_id" in x] == []

    # For every (citizen, month) the issued lines still sum to the current fee.
    for pid in pids:
        for month, figures in (await months(trio, pid)).items():
            issued_sum = sum(
                (Decimal(x["amount_dkk"]) for s in (statement, second, third) for x in s["lines"]
                 if (x["participant_id"], x["month"]) == (pid, month)),
                Decimal("0.00"),
            )  # fmt: skip
            if month <= third["covers_through"] and not figures["provisional"]:
                assert issued_sum == Decimal(figures["fee_dkk"]), (pid, month)

    events = await outbox_events(trio.settlement)
    opened_events = [e for e in events if e.type == DisputeOpenedV1.event_type]
    resolved_events = [e for e in events if e.type == DisputeResolvedV1.event_type]
    assert len(opened_events) == 1 and len(resolved_events) == 1
    assert DisputeResolvedV1.model_validate(resolved_events[0].data).outcome == "upheld"
    envelope = opened_events[0].model_dump_json()
    assert "sick leave" not in envelope and pids[0] not in envelope


async def test_a_rejected_dispute_of_the_investors_cell_makes_the_held_amount_payable(trio: Trio) -> None:
    pids, statement = await three_employed(trio)
    url = f"/v1/statements/{statement['statement_id']}/disputes"
    by_line = await trio.settlement.post(url, json=opening_body(line_no=1), headers=INVESTOR)
    assert by_line.status_code == 422 and by_line.json()["errors"][0]["field"] == "line_no"
    cap = await trio.settlement.post(url, json=opening_body(month="2024-05", kind="cap"), headers=INVESTOR)
    assert cap.status_code == 422 and cap.json()["errors"][0]["field"] == "kind"

    opened = await trio.settlement.post(url, json=opening_body(month="2024-05", kind="fee"), headers=INVESTOR)
    assert opened.status_code == 201, opened.text
    dispute = opened.json()
    # The investor sees the cell's money, no citizen and no line.
    assert (dispute["amount_dkk"], dispute["investor_dkk"], dispute["provider_dkk"]) == (
        "10500.00", "6300.00", "4200.00",
    )  # fmt: skip
    assert dispute["lines"] is None and dispute["line_no"] is None and dispute["steps"][0]["by"] is None
    assert not any(pid in opened.text for pid in pids)
    may_line = line_of(statement, pids[1], "2024-05")["line_no"]
    held_line = await trio.settlement.post(url, json=opening_body(line_no=may_line), headers=PROVIDER)
    assert held_line.status_code == 409
    listed = await trio.settlement.get(f"/v1/programmes/{PROGRAMME}/disputes?state=open", headers=FINANCE)
    assert listed.json()["held"] == {
        "open_disputes": 1, "held_dkk": "10500.00", "investor_dkk": "6300.00", "provider_dkk": "4200.00",
        "suppressed": False,
    }  # fmt: skip
    assert listed.json()["items"][0]["age_days"] == 0

    resolution = f"/v1/disputes/{dispute['dispute_id']}/resolution"
    no_reason = await trio.settlement.post(resolution, json={"outcome": "rejected"}, headers=JOBCENTER)
    assert no_reason.status_code == 422
    rejected = await trio.settlement.post(
        resolution, json={"outcome": "rejected", "reason": "The May statuses are right."}, headers=JOBCENTER
    )
    assert rejected.status_code == 200 and rejected.json()["state"] == "rejected"
    assert rejected.json()["held"] is False
    assert await held(trio) == {"investor": Decimal("0.00"), "provider": Decimal("0.00")}
    listed = await trio.settlement.get(f"/v1/programmes/{PROGRAMME}/disputes", headers=INVESTOR)
    assert listed.json()["held"]["held_dkk"] == "0.00"
    assert [d["state"] for d in listed.json()["items"]] == ["rejected"]
    # The line is free again: the provider may dispute it now.
    again = await trio.settlement.post(url, json=opening_body(line_no=may_line), headers=PROVIDER)
    assert again.status_code == 201
    # The list gives each dispute its own lines and steps; the investor's none of the lines.
    listed = (await trio.settlement.get(f"/v1/programmes/{PROGRAMME}/disputes", headers=FINANCE)).json()
    may = sorted(x["line_no"] for x in statement["lines"] if (x["month"], x["kind"]) == ("2024-05", "fee"))
    assert [(sorted(x["line_no"] for x in d["lines"]), [s["step"] for s in d["steps"]]) for d in listed["items"]] == [
        (may, ["opened", "rejected"]), ([may_line], ["opened"]),
    ]  # fmt: skip
    listed = (await trio.settlement.get(f"/v1/programmes/{PROGRAMME}/disputes", headers=INVESTOR)).json()
    assert [(d["lines"], len(d["steps"])) for d in listed["items"]] == [(None, 2), (None, 1)]


async def test_only_the_opener_withdraws_a_dispute(trio: Trio) -> None:
    _pids, statement = await three_employed(trio)
    url = f"/v1/statements/{statement['statement_id']}/disputes"
    dispute = (await trio.settlement.post(url, json=opening_body(line_no=2), headers=PROVIDER)).json()
    withdrawal = f"/v1/disputes/{dispute['dispute_id']}/withdrawal"
    for other in (OTHER_PROVIDER, INVESTOR):
        refused = await trio.settlement.post(withdrawal, headers=other)
        assert refused.status_code == 403, refused.text
    withdrawn = await trio.settlement.post(withdrawal, headers=PROVIDER)
    assert withdrawn.status_code == 200 and withdrawn.json()["state"] == "withdrawn"
    assert (await trio.settlement.post(withdrawal, headers=PROVIDER)).json()["state"] == "withdrawn"
    late = await trio.settlement.post(
        f"/v1/disputes/{dispute['dispute_id']}/resolution", json={"outcome": "upheld"}, headers=JOBCENTER
    )
    assert late.status_code == 409
    assert await held(trio) == {"investor": Decimal("0.00"), "provider": Decimal("0.00")}
    listed = await trio.settlement.get(
        f"/v1/programmes/{PROGRAMME}/disputes?opened_by=provider&state=withdrawn", headers=JOBCENTER
    )
    assert [d["dispute_id"] for d in listed.json()["items"]] == [dispute["dispute_id"]]


async def test_a_dispute_after_the_window_is_refused_naming_it(
    trio: Trio, monkeypatch: pytest.MonkeyPatch
) -> None:
    _pids, statement = await three_employed(trio)
    url = f"/v1/statements/{statement['statement_id']}/disputes"
    monkeypatch.setattr(opening, "utcnow", lambda: utcnow() + timedelta(days=30, minutes=1))
    late = await trio.settlement.post(url, json=opening_body(line_no=1), headers=PROVIDER)
    assert late.status_code == 422, late.text
    assert late.json()["errors"][0]["field"] == "statement_id" and "30 days" in late.json()["detail"]
    monkeypatch.setattr(opening, "utcnow", lambda: utcnow() + timedelta(days=29, hours=23))
    assert (
        await trio.settlement.post(url, json=opening_body(line_no=1), headers=PROVIDER)
    ).status_code == 201


async def test_a_cpr_number_in_the_text_is_refused_and_not_echoed(trio: Trio) -> None:
    _pids, statement = await three_employed(trio)
    url = f"/v1/statements/{statement['statement_id']}/disputes"
    for cpr in ("070761-4285", "0707614285"):
        refused = await trio.settlement.post(
            url, json=opening_body(line_no=1) | {"text": f"Citizen {cpr} was sick."}, headers=PROVIDER
        )
        assert refused.status_code == 422 and refused.json()["errors"][0]["field"] == "text"
        assert cpr not in refused.text and cpr[:6] not in refused.text
    dispute = (await trio.settlement.post(url, json=opening_body(line_no=1), headers=PROVIDER)).json()
    reason = await trio.settlement.post(
        f"/v1/disputes/{dispute['dispute_id']}/resolution",
        json={"outcome": "rejected", "reason": "See 070761-4285"},
        headers=JOBCENTER,
    )
    assert reason.status_code == 422 and "070761" not in reason.text
    assert not any("070761" in e.model_dump_json() for e in await outbox_events(trio.settlement))
