"""Settlement with intake and progression beside it (real database, real nats-server): months follow
every status change, statements carry fee, adjustment and cap lines, explanations, CSV, summary."""

from __future__ import annotations

import copy
from datetime import date
from typing import Any

from libs.common.auth import SERVICE_ROLES, Role
from libs.common.contracts import StatementIssuedV2, StatementLinesV1
from libs.common.uow import UnitOfWork
from libs.simulator.jobcenter import seed_parties
from services.settlement.repository import PartiesRepository
from tests.integration.conftest import (
    ADMIN_ROUTES,
    SEED,
    UNAUTHENTICATED_ROUTES,
    Trio,
    auth,
    eventually,
    outbox_events,
)
from tests.integration.settlement_dispute_routes import DISPUTE_BODIES, DISPUTE_ROUTES, prepare
from tests.integration.settlement_report_routes import REPORT_BODIES, REPORT_ROUTES
from tests.issuing import issue

PROGRAMME = "hedensted-2022"
JOBCENTER = auth(Role.jobcenter, PROGRAMME, subject="jobcenter-hedensted")
PROVIDER = auth(Role.provider, PROGRAMME)
INVESTOR = auth(Role.investor, PROGRAMME)
ADMIN = auth(Role.admin)


async def enrol(
    trio: Trio, cpr: str, enrolled_on: str = "2024-03-15", terms: dict[str, Any] | None = None
) -> str:
    if (await trio.intake.get(f"/v1/programmes/{PROGRAMME}", headers=ADMIN)).status_code == 404:
        body = copy.deepcopy(SEED)
        if terms:
            body["terms"] |= terms
        assert (await trio.intake.post("/v1/programmes", json=body, headers=ADMIN)).status_code == 201
    pid = str(
        (
            await trio.intake.post(
                "/v1/participants",
                json={
                    "programme_id": PROGRAMME,
                    "cpr": cpr,
                    "track": "sygedagpenge",
                    "referred_on": "2024-03-01",
                },
                headers=JOBCENTER,
            )
        ).json()["participant_id"]
    )
    await trio.intake.post(
        f"/v1/participants/{pid}/enrolment",
        json={"enrolled_on": enrolled_on, "consent_given_on": "2024-03-10"},
        headers=JOBCENTER,
    )
    return pid


async def status(trio: Trio, pid: str, code: str, valid_from: str, valid_to: str | None = None) -> None:
    body = {"participant_id": pid, "code": code, "valid_from": valid_from} | (
        {"valid_to": valid_to} if valid_to else {}
    )

    async def accepted() -> bool:  # the participant reaches progression by event
        response = await trio.progression.post("/v1/status-records", json=body, headers=JOBCENTER)
        return response.status_code == 201

    await eventually(accepted)


async def cutoff(trio: Trio, through: str) -> None:
    async def moved() -> bool:
        response = await trio.progression.put(
            f"/v1/programmes/{PROGRAMME}/data-cutoff", json={"complete_through": through}, headers=JOBCENTER
        )
        return response.status_code == 200

    await eventually(moved)


async def months(trio: Trio, pid: str) -> dict[str, dict[str, Any]]:
    response = await trio.settlement.get(f"/v1/participants/{pid}/months", headers=JOBCENTER)
    return {m["month"]: m for m in response.json()["items"]} if response.status_code == 200 else {}


async def wait_for_fee(trio: Trio, pid: str, month: str, fee: str, provisional: bool = False) -> None:
    async def reached() -> bool:
        found = (await months(trio, pid)).get(month)
        return found is not None and found["fee_dkk"] == fee and found["provisional"] == provisional

    await eventually(reached, timeout=15)


async def test_months_statements_and_an_adjustment_for_a_corrected_month(trio: Trio) -> None:
    pid = await enrol(trio, "070761-4285")
    await status(trio, pid, "sygedagpenge", "2024-03-15", "2024-04-30")
    await status(trio, pid, "employed", "2024-05-01", "2024-07-31")
    await cutoff(trio, "2024-07-31")
    await wait_for_fee(trio, pid, "2024-07", "3500.00")

    by_month = await months(trio, pid)
    assert len(by_month) == 25  # March 2024 (from the 15th) to March 2026 (to the 14th)
    assert by_month["2024-03"] | {} == {
        "month": "2024-03", "in_window_days": 17, "self_supporting_days": 0, "public_support_days": 17,
        "unknown_days": 0, "provisional": False, "fee_dkk": "0.00", "invoiced_dkk": "0.00",
    }  # fmt: skip
    assert [by_month[m]["fee_dkk"] for m in ("2024-04", "2024-05", "2024-06", "2024-07")] == [
        "0.00", "3500.00", "3500.00", "3500.00",
    ]  # fmt: skip
    assert by_month["2024-08"]["provisional"] is True and by_month["2024-08"]["unknown_days"] == 31

    url = f"/v1/programmes/{PROGRAMME}/statements"
    first = await issue(trio.settlement, PROGRAMME, "2024-08", JOBCENTER)
    assert first.status_code == 201, first.text
    statement = first.json()
    assert statement["covers_through"] == "2024-06"
    assert [(line["kind"], line["month"], line["amount_dkk"]) for line in statement["lines"]] == [
        ("fee", "2024-05", "3500.00"),
        ("fee", "2024-06", "3500.00"),
    ]
    assert statement["totals"]["net"] == "7000.00"
    assert (statement["totals"]["investor"], statement["totals"]["provider"]) == ("4200.00", "2800.00")
    assert len(statement["sha256"]) == 64
    again = await issue(trio.settlement, PROGRAMME, "2024-08", JOBCENTER)
    assert again.status_code == 200 and again.json() == statement

    # A late correction: three sick days in June, an invoiced month.
    await status(trio, pid, "sygedagpenge", "2024-06-10", "2024-06-12")
    await wait_for_fee(trio, pid, "2024-06", "0.00")
    second = await issue(trio.settlement, PROGRAMME, "2024-09", JOBCENTER)
    assert second.status_code == 201
    lines = second.json()["lines"]
    assert [(line["kind"], line["month"], line["amount_dkk"]) for line in lines] == [
        ("adjustment", "2024-06", "-3500.00"),
        ("fee", "2024-07", "3500.00"),
    ]
    june_line = next(line for line in statement["lines"] if line["month"] == "2024-06")
    assert (lines[0]["corrects_statement_id"], lines[0]["corrects_line_no"]) == (
        statement["statement_id"],
        june_line["line_no"],
    )

    # Every month's lines add up to its current fee.
    by_month = await months(trio, pid)
    for month in ("2024-05", "2024-06", "2024-07"):
        assert by_month[month]["invoiced_dkk"] == by_month[month]["fee_dkk"]

    explanation = await trio.settlement.get(
        f"/v1/participants/{pid}/months/2024-06/explanation", headers=PROVIDER
    )
    assert explanation.status_code == 200, explanation.text
    body = explanation.json()
    assert body["cutoff_used"] == "2024-07-31" and body["rule"] == "full_month" and body["fee_dkk"] == "0.00"
    assert [(p["from"], p["to"], p["code"]) for p in body["periods"]] == [
        ("2024-06-01", "2024-06-09", "employed"),
        ("2024-06-10", "2024-06-12", "sygedagpenge"),
        ("2024-06-13", "2024-06-30", "employed"),
    ]
    assert body["periods"][1]["recording_seq"] == 3

    summary = (await trio.settlement.get(f"/v1/programmes/{PROGRAMME}/summary", headers=INVESTOR)).json()
    assert (summary["invoiced_dkk"], summary["earned_dkk"], summary["statements"]) == (
        "7000.00",
        "7000.00",
        2,
    )
    assert summary["cap_remaining_dkk"] == "5593000.00"
    assert (summary["investor_cumulative_dkk"], summary["provider_cumulative_dkk"]) == ("4200.00", "2800.00")

    csv_text = (
        await trio.settlement.get(
            f"/v1/statements/{second.json()['statement_id']}", headers=ADMIN | {"Accept": "text/csv"}
        )
    ).text
    assert csv_text.splitlines()[0].startswith("line_no,kind,participant_id,month,amount_dkk")
    assert f"1,adjustment,{pid},2024-06,-3500.00" in csv_text

    as_investor = (
        await trio.settlement.get(f"/v1/statements/{statement['statement_id']}", headers=INVESTOR)
    ).json()
    # The investor reads the lines per month and kind (test_settlement_investor.py): one citizen here,
    # so every cell is suppressed.
    assert all("participant_id" not in line and line["suppressed"] for line in as_investor["lines"])
    assert (await trio.settlement.get(f"/v1/participants/{pid}/months", headers=INVESTOR)).status_code == 403
    assert (await trio.settlement.post(url, json={"period": "2024-07"}, headers=JOBCENTER)).status_code == 409
    assert (await trio.settlement.post(url, json={"period": "2024-10"}, headers=PROVIDER)).status_code == 403

    events = [e for e in await outbox_events(trio.settlement) if ".statement." in e.type]
    # Each statement: drafted, then in the approval's transaction its lines in statement.lines.v1
    # parts, its statement.issued.v2 and the approval.
    assert [e.type.rsplit(".", 2)[-2] for e in events] == [
        "drafted", "lines", "issued", "approved", "drafted", "lines", "issued", "approved",
    ]  # fmt: skip
    events = [e for e in events if e.type.rsplit(".", 2)[-2] in ("lines", "issued")]
    issued = [StatementIssuedV2.model_validate(e.data) for e in events[1::2]]
    assert [e.period for e in issued] == ["2024-08", "2024-09"]
    assert [(e.line_count, e.parts, e.sha256) for e in issued] == [
        (len(statement["lines"]), 1, statement["sha256"]),
        (len(second.json()["lines"]), 1, second.json()["sha256"]),
    ]
    part = StatementLinesV1.model_validate(events[2].data)
    assert (part.statement_id, part.part, part.first_line_no) == (second.json()["statement_id"], 1, 1)
    assert [[kind, p, m, str(a), s, n] for kind, p, m, a, s, n in part.lines] == [
        [line[c] for c in ("kind", "participant_id", "month", "amount_dkk", "corrects_statement_id",
                           "corrects_line_no")]
        for line in second.json()["lines"]
    ]  # fmt: skip
    recalculated = [
        e for e in await outbox_events(trio.settlement) if e.type.endswith("months.recalculated.v1")
    ]
    june = [c for e in recalculated for c in e.data["changes"] if c["month"] == "2024-06"]
    assert june[-1]["old_fee_dkk"] == "3500.00" and june[-1]["new_fee_dkk"] == "0.00"


async def test_the_cap_is_a_line_of_its_own(trio: Trio) -> None:
    pid = await enrol(trio, "070761-4285", terms={"total_cap_dkk": "5000.00"})
    await status(trio, pid, "employed", "2024-03-15")
    await cutoff(trio, "2024-06-30")
    await wait_for_fee(trio, pid, "2024-06", "3500.00")
    response = await issue(trio.settlement, PROGRAMME, "2024-08", ADMIN)
    body = response.json()
    # Earned through June, by the full-month rule: March's 17 of 31 days (3500 x 17/31 = 1919.35) and
    # three whole months (10,500.00), 12,419.35 in all; the cap takes back all above 5,000.00.
    assert body["covers_through"] == "2024-06"
    kinds = [(line["kind"], line["amount_dkk"]) for line in body["lines"]]
    assert kinds == [
        ("fee", "1919.35"), ("fee", "3500.00"), ("fee", "3500.00"), ("fee", "3500.00"), ("cap", "-7419.35"),
    ]  # fmt: skip
    assert body["totals"]["cumulative_earned"] == "12419.35"
    assert body["totals"]["cumulative_invoiced"] == "5000.00"


async def test_an_even_split_gives_the_half_ore_to_the_investor(trio: Trio) -> None:
    # A cap of 1,000.01 makes the invoiced total 1,000.01, whose half is 500.005: half-up gives the
    # investor 500.01 (half-even would give 500.00) and the provider the rest.
    split = {"investor_percent": "50", "provider_percent": "50"}
    pid = await enrol(trio, "070761-4285", terms={"total_cap_dkk": "1000.01", "split": split})
    await status(trio, pid, "employed", "2024-03-15")
    await cutoff(trio, "2024-05-31")
    await wait_for_fee(trio, pid, "2024-05", "3500.00")
    response = await issue(trio.settlement, PROGRAMME, "2024-07", ADMIN)
    assert response.status_code == 201, response.text
    totals = response.json()["totals"]
    assert totals["cumulative_invoiced"] == "1000.01"
    assert (totals["investor"], totals["provider"]) == ("500.01", "500.00")
    assert (totals["cumulative_investor"], totals["cumulative_provider"]) == ("500.01", "500.00")


async def test_a_withdrawal_shortens_the_window(trio: Trio) -> None:
    pid = await enrol(trio, "070761-4285")
    await status(trio, pid, "employed", "2024-03-15")
    await cutoff(trio, "2024-12-31")
    await wait_for_fee(trio, pid, "2024-06", "3500.00")
    await trio.intake.post(
        f"/v1/participants/{pid}/withdrawal",
        json={"effective_on": "2024-06-16", "reason": "moved_away"},
        headers=JOBCENTER,
    )

    async def shortened() -> bool:
        found = await months(trio, pid)
        return "2024-07" not in found and found.get("2024-06", {}).get("in_window_days") == 15

    await eventually(shortened)
    june = (await months(trio, pid))["2024-06"]
    assert june["fee_dkk"] == "1750.00"  # 3500 x 15/30


async def test_a_dry_run_shows_what_would_change_and_stores_nothing(trio: Trio) -> None:
    pid = await enrol(trio, "070761-4285")
    await status(trio, pid, "employed", "2024-03-15", "2024-12-31")
    await cutoff(trio, "2024-08-31")
    await wait_for_fee(trio, pid, "2024-08", "3500.00")
    before = await months(trio, pid)
    url = f"/v1/programmes/{PROGRAMME}/dry-run"
    body = {"records": [{"participant_id": pid, "code": "sygedagpenge", "iso_week": "2024-W24"}]}
    response = await trio.settlement.post(url, json=body, headers=JOBCENTER)
    assert response.status_code == 200, response.text
    result = response.json()
    assert [(c["month"], c["current_fee_dkk"], c["new_fee_dkk"]) for c in result["changes"]] == [
        ("2024-06", "3500.00", "0.00")
    ]
    assert result["total_change_dkk"] == "-3500.00"
    assert await months(trio, pid) == before
    unknown = await trio.settlement.post(
        url,
        json={"records": [{"participant_id": "nobody", "code": "employed", "valid_from": "2024-01-01"}]},
        headers=JOBCENTER,
    )
    assert unknown.status_code == 422 and unknown.json()["errors"][0]["field"] == "records[0].participant_id"
    assert (await trio.settlement.post(url, json=body, headers=INVESTOR)).status_code == 403


J, P, INV, G, A = Role.jobcenter, Role.provider, Role.investor, Role.integrator, Role.admin
F = Role.finance
AU = Role.auditor
MATRIX = (
    {
        ("GET", "/v1/programmes/{programme_id}/terms"): frozenset(Role) - SERVICE_ROLES,
        ("POST", "/v1/programmes/{programme_id}/statements"): frozenset({J, A}),
        ("GET", "/v1/programmes/{programme_id}/statement-drafts"): frozenset({J, F, A, AU}),
        ("GET", "/v1/statements/drafts/{draft_id}"): frozenset({J, F, A, AU}),
        ("DELETE", "/v1/statements/drafts/{draft_id}"): frozenset({J, A}),
        ("POST", "/v1/statements/drafts/{draft_id}/approval"): frozenset({F}),
        ("GET", "/v1/programmes/{programme_id}/statements"): frozenset({J, P, INV, F, A, AU}),
        ("GET", "/v1/statements/{statement_id}"): frozenset({J, P, INV, F, A, AU}),
        ("GET", "/v1/programmes/{programme_id}/summary"): frozenset({J, P, INV, F, A, AU}),
        ("GET", "/v1/participants/{participant_id}/months"): frozenset({J, P, A, AU}),
        ("GET", "/v1/participants/{participant_id}/months/{month}/explanation"): frozenset({J, P, A, AU}),
        ("POST", "/v1/programmes/{programme_id}/dry-run"): frozenset({J, P, A}),
        ("GET", "/v1/programmes/{programme_id}/invoices"): frozenset({F, J, P, INV, A, AU}),
        ("GET", "/v1/invoices/{invoice_id}"): frozenset({F, J, P, INV, A, AU}),
        ("GET", "/v1/invoices/{invoice_id}/document"): frozenset({F, J, P, INV, A, AU}),
        ("GET", "/v1/invoices/{invoice_id}/document.html"): frozenset({F, J, P, INV, A, AU}),
        ("GET", "/v1/invoices/{invoice_id}/payments"): frozenset({F, J, P, INV, A, AU}),
        ("POST", "/v1/invoices/{invoice_id}/payments"): frozenset({F}),
        ("GET", "/v1/programmes/{programme_id}/receivables"): frozenset({F, J, P, INV, A, AU}),
        ("GET", "/v1/participants/{participant_id}/personal-data"): frozenset({Role.intake_service}),
    }
    | ADMIN_ROUTES
    | REPORT_ROUTES
    | DISPUTE_ROUTES
)


async def _parties_arrived(trio: Trio) -> bool:
    async with UnitOfWork(trio.settlement.app.state.database) as uow:
        return await PartiesRepository(uow.session).parties_as_of(PROGRAMME, date(2026, 1, 1)) is not None


async def test_role_by_endpoint_matrix_of_settlement(trio: Trio) -> None:
    openapi = (await trio.settlement.get("/openapi.json")).json()
    routes = {(m.upper(), path) for path, ops in openapi["paths"].items() for m in ops}
    assert routes == set(MATRIX) | UNAUTHENTICATED_ROUTES

    pid = await enrol(trio, "070761-4285")
    parties = await trio.intake.post(
        f"/v1/programmes/{PROGRAMME}/parties", json=seed_parties(), headers=ADMIN
    )
    assert parties.status_code == 201
    await status(trio, pid, "employed", "2024-03-15")
    await cutoff(trio, "2024-05-31")
    await wait_for_fee(trio, pid, "2024-05", "3500.00")
    await eventually(lambda: _parties_arrived(trio))
    issued = await issue(trio.settlement, PROGRAMME, "2024-06", ADMIN)
    statement_id = issued.json()["statement_id"]
    await prepare(trio.settlement, issued.json(), {role: auth(role, PROGRAMME) for role in Role})
    items = (await trio.settlement.get(f"/v1/programmes/{PROGRAMME}/invoices", headers=ADMIN)).json()["items"]
    assert {item["creditor"] for item in items} == {"investor", "provider"}
    # A provider reads the provider's invoice, an investor the investor's; the others either.
    own_invoice = {role: items[0]["invoice_id"] for role in Role} | {
        Role(item["creditor"]): item["invoice_id"] for item in items
    }
    # One draft for finance to approve (2024-07), another for the preparers to discard (2024-08).
    drafts_url = f"/v1/programmes/{PROGRAMME}/statements"
    to_approve = (await trio.settlement.post(drafts_url, json={"period": "2024-07"}, headers=ADMIN)).json()
    to_discard = (await trio.settlement.post(drafts_url, json={"period": "2024-08"}, headers=ADMIN)).json()
    bodies = (
        DISPUTE_BODIES
        | REPORT_BODIES
        | {
            ("POST", "/v1/programmes/{programme_id}/statements"): {"period": "2024-07"},
            ("POST", "/v1/statements/drafts/{draft_id}/approval"): {"sha256": to_approve["sha256"]},
            ("POST", "/v1/invoices/{invoice_id}/payments"): {
                "amount": "1.00",
                "paid_on": "2024-07-01",
                "bank_reference": "MATRIX-1",
            },
            ("POST", "/v1/programmes/{programme_id}/dry-run"): {
                "records": [{"participant_id": pid, "code": "employed", "valid_from": "2024-06-01"}]
            },
        }
    )
    for role in Role:
        for (method, template), allowed in MATRIX.items():
            draft_id = to_discard["draft_id"] if method == "DELETE" else to_approve["draft_id"]
            path = template.format(
                programme_id=PROGRAMME, participant_id=pid, statement_id=statement_id, month="2024-05",
                role=role, invoice_id=own_invoice[role], draft_id=draft_id,
            )  # fmt: skip
            body = bodies.get((method, template))
            body = body(role) if callable(body) else body  # the dispute routes' bodies differ per role
            response = await trio.settlement.request(method, path, json=body, headers=auth(role, PROGRAMME))
            if role in allowed:
                assert response.status_code < 400, (role, method, template, response.text)
            else:
                assert response.status_code == 403, (role, method, template, response.status_code)
            assert (await trio.settlement.request(method, path, json=body)).status_code == 401
