"""Invoices and credit notes made when statements are issued, their Peppol documents, payments and the
receivables (real database, real nats-server; services/settlement/services/invoices/)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from lxml import etree

from libs.common import clock
from libs.common.auth import Role
from libs.common.contracts import InvoiceIssuedV1, PaymentRecordedV1
from libs.common.dates import today_in_denmark
from libs.common.uow import UnitOfWork
from libs.simulator.jobcenter import seed_parties
from services.settlement.repository import PartiesRepository
from services.settlement.services.invoices import invoice_statement
from services.settlement.services.statements import issue as issue_module
from tests import issuing
from tests.einvoice_validation import fatal, validate
from tests.integration.conftest import Trio, auth, eventually, outbox_events
from tests.integration.test_settlement import ADMIN, PROGRAMME, cutoff, enrol, status, wait_for_fee

FINANCE = auth(Role.finance, PROGRAMME, subject="finance-officer")
JOBCENTER = auth(Role.jobcenter, PROGRAMME, subject="jobcenter-hedensted")
PROVIDER = auth(Role.provider, PROGRAMME)
INVESTOR = auth(Role.investor, PROGRAMME)
NS = {
    "cbc": "urn:oasis:names:specification:ubl:schema:xsd:CommonBasicComponents-2",
    "cac": "urn:oasis:names:specification:ubl:schema:xsd:CommonAggregateComponents-2",
}
ZERO = Decimal("0.00")


async def issue(trio: Trio, period: str) -> dict[str, Any]:
    """Issue the statement of a period: drafted by the jobcenter, approved by finance."""
    response = await issuing.issue(trio.settlement, PROGRAMME, period, JOBCENTER)
    assert response.status_code in (200, 201), response.text
    body: dict[str, Any] = response.json()
    return body


async def publish_parties(trio: Trio) -> None:
    response = await trio.intake.post(
        f"/v1/programmes/{PROGRAMME}/parties", json=seed_parties(), headers=ADMIN
    )
    assert response.status_code == 201, response.text

    async def arrived() -> bool:  # settlement holds them once the event is applied
        async with UnitOfWork(trio.settlement.app.state.database) as uow:
            return await PartiesRepository(uow.session).parties_as_of(PROGRAMME, date(2026, 1, 1)) is not None

    await eventually(arrived)


async def invoices(trio: Trio, headers: dict[str, str] = FINANCE, **query: str) -> list[dict[str, Any]]:
    response = await trio.settlement.get(
        f"/v1/programmes/{PROGRAMME}/invoices", params=query, headers=headers
    )
    assert response.status_code == 200, response.text
    items: list[dict[str, Any]] = response.json()["items"]
    return items


def one(root: etree._Element, path: str) -> str:
    found = root.xpath(f"{path}/text()", namespaces=NS)
    assert isinstance(found, list) and len(found) == 1, path
    return str(found[0])


async def test_statements_with_a_correction_and_the_cap_make_valid_invoices_and_credit_notes(
    trio: Trio, monkeypatch: pytest.MonkeyPatch
) -> None:
    pid = await enrol(trio, "070761-4285", terms={"total_cap_dkk": "12000.00"})
    await publish_parties(trio)
    await status(trio, pid, "employed", "2024-03-15")
    await cutoff(trio, "2024-07-31")
    await wait_for_fee(trio, pid, "2024-06", "3500.00")
    # 1: March (17 of 31 days: 1,919.35), April, May, June: 12,419.35 earned, capped at 12,000.00.
    first = await issue(trio, "2024-08")
    assert first["totals"]["cap"] == "-419.35"
    # 2: sick days in May and June take both months back (-7,000.00); July earns 3,500.00 and the
    # cap gives back what it took: a negative share for both creditors, so two credit notes.
    await status(trio, pid, "sygedagpenge", "2024-05-10", "2024-06-12")
    await wait_for_fee(trio, pid, "2024-06", "0.00")
    await wait_for_fee(trio, pid, "2024-05", "0.00")
    second = await issue(trio, "2024-09")
    assert Decimal(second["totals"]["net"]) == Decimal("-3080.65")

    # An issue that fails after its invoices were numbered takes no number with it.
    original = invoice_statement

    async def numbered_then_failing(*args: Any, **kwargs: Any) -> Any:
        await original(*args, **kwargs)
        raise RuntimeError("the issue fails after numbering its invoices")

    await cutoff(trio, "2024-10-31")
    await wait_for_fee(trio, pid, "2024-10", "3500.00")
    monkeypatch.setattr(issue_module, "invoice_statement", numbered_then_failing)
    try:
        failed = await issuing.issue(trio.settlement, PROGRAMME, "2024-12", JOBCENTER)
        assert failed.status_code == 500
    except RuntimeError:
        pass
    monkeypatch.setattr(issue_module, "invoice_statement", original)
    # 3: August to October (10,500.00) reach the cap again.
    third = await issue(trio, "2024-12")
    assert third["totals"]["cumulative_invoiced"] == "12000.00"

    items = await invoices(trio)
    statements = [first, second, third]
    for creditor in ("investor", "provider"):
        mine = [i for i in items if i["creditor"] == creditor]
        # One document per statement, numbered 1..n in the creditor's series without a gap.
        assert [i["statement_id"] for i in mine] == [s["statement_id"] for s in statements]
        assert [(i["sequence"], i["number"]) for i in mine] == [(n, f"SIB-{n}") for n in (1, 2, 3)]
        assert [i["document_type"] for i in mine] == ["invoice", "credit_note", "invoice"]
        # Each amount is the creditor's share of its statement to the øre, and they add up to its
        # cumulative share.
        assert [i["amount_dkk"] for i in mine] == [s["totals"][creditor] for s in statements]
        total = sum((Decimal(i["amount_dkk"]) for i in mine), ZERO)
        assert total == Decimal(third["totals"][f"cumulative_{creditor}"])
        # The credit note cites the creditor's invoice of the statement whose lines it corrects.
        assert mine[1]["corrects"] == [mine[0]["invoice_id"]]
        assert mine[0]["due_date"] == str(date.fromisoformat(mine[0]["issue_date"]) + timedelta(days=30))

    for item in items:
        response = await trio.settlement.get(f"/v1/invoices/{item['invoice_id']}/document", headers=FINANCE)
        assert response.status_code == 200 and response.headers["content-type"] == "application/xml"
        xml = response.content
        assert fatal(validate(xml)) == [], item["number"]
        root = etree.fromstring(xml)
        assert etree.QName(root).localname == (
            "Invoice" if item["document_type"] == "invoice" else "CreditNote"
        )
        assert one(root, "cbc:ID") == item["number"]
        assert Decimal(one(root, "cac:LegalMonetaryTotal/cbc:PayableAmount")) == abs(
            Decimal(item["amount_dkk"])
        )
        cited = root.xpath("cac:BillingReference/cac:InvoiceDocumentReference/cbc:ID/text()", namespaces=NS)
        by_id = {i["invoice_id"]: i["number"] for i in items}
        assert cited == [by_id[i] for i in item["corrects"]]
        again = await trio.settlement.get(f"/v1/invoices/{item['invoice_id']}/document", headers=FINANCE)
        assert again.content == xml  # rendered from stored data: the same bytes every time
    html = await trio.settlement.get(
        f"/v1/invoices/{items[0]['invoice_id']}/document", headers=FINANCE | {"Accept": "text/html"}
    )
    assert html.headers["content-type"].startswith("text/html") and "SIB-1" in html.text
    assert (
        await trio.settlement.get(f"/v1/invoices/{items[0]['invoice_id']}/document.html", headers=ADMIN)
    ).text == html.text

    # A provider reads the provider's invoices only; an investor the investor's.
    assert {i["creditor"] for i in await invoices(trio, PROVIDER)} == {"provider"}
    assert {i["creditor"] for i in await invoices(trio, INVESTOR)} == {"investor"}
    investor_invoice = next(i for i in items if i["creditor"] == "investor")
    assert (
        await trio.settlement.get(f"/v1/invoices/{investor_invoice['invoice_id']}", headers=PROVIDER)
    ).status_code == 404
    events = [e for e in await outbox_events(trio.settlement) if e.type.endswith("invoice.issued.v1")]
    issued = [InvoiceIssuedV1.model_validate(e.data) for e in events]
    assert sorted((e.creditor, e.sequence) for e in issued) == sorted(
        (i["creditor"], i["sequence"]) for i in items
    )


async def test_payments_partial_full_overdue_and_an_idempotent_retry(
    trio: Trio, monkeypatch: pytest.MonkeyPatch
) -> None:
    pid = await enrol(trio, "070761-4285")
    await publish_parties(trio)
    await status(trio, pid, "employed", "2024-03-15")
    await cutoff(trio, "2024-05-31")
    await wait_for_fee(trio, pid, "2024-05", "3500.00")
    await issue(trio, "2024-07")  # 1,919.35 + 3,500.00 + 3,500.00 = 8,919.35: 5,351.61 / 3,567.74
    items = await invoices(trio)
    investor = next(i for i in items if i["creditor"] == "investor")
    provider = next(i for i in items if i["creditor"] == "provider")
    assert (investor["amount_dkk"], provider["amount_dkk"]) == ("5351.61", "3567.74")
    assert investor["status"] == "open"
    url = f"/v1/invoices/{investor['invoice_id']}/payments"

    body = {"amount": "2000.00", "paid_on": "2024-07-20", "bank_reference": "BANK-1"}
    first = await trio.settlement.post(url, json=body, headers=FINANCE)
    assert first.status_code == 201, first.text
    retry = await trio.settlement.post(url, json=body, headers=FINANCE)
    assert retry.status_code == 200 and retry.json() == first.json()
    changed = await trio.settlement.post(url, json=body | {"amount": "2000.01"}, headers=FINANCE)
    assert changed.status_code == 409
    assert (
        await trio.settlement.post(url, json=body | {"bank_reference": "B2"}, headers=JOBCENTER)
    ).status_code == 403
    too_much = await trio.settlement.post(
        url, json={"amount": "3351.62", "paid_on": "2024-08-01", "bank_reference": "BANK-2"}, headers=FINANCE
    )
    assert too_much.status_code == 422 and too_much.json()["errors"][0]["field"] == "amount"
    for bad in ({"amount": "0"}, {"amount": "-1.00"}, {"amount": 1.5}):
        refused = await trio.settlement.post(url, json=body | bad | {"bank_reference": "X"}, headers=FINANCE)
        assert refused.status_code == 422 and "amount" in refused.text
    tomorrow = (today_in_denmark() + timedelta(days=1)).isoformat()  # a payment not yet made
    ahead = await trio.settlement.post(
        url, json=body | {"paid_on": tomorrow, "bank_reference": "BANK-AHEAD"}, headers=FINANCE
    )
    assert ahead.status_code == 422 and ahead.json()["errors"][0]["field"] == "paid_on", ahead.text

    got = (await trio.settlement.get(f"/v1/invoices/{investor['invoice_id']}", headers=INVESTOR)).json()
    assert (got["status"], got["paid_dkk"], got["open_dkk"]) == ("partially_paid", "2000.00", "3351.61")

    # Past the due date, the provider's unpaid invoice is overdue; the investor's is paid in full.
    due = date.fromisoformat(provider["due_date"])
    monkeypatch.setattr(
        clock,
        "utcnow",
        lambda: datetime.combine(due + timedelta(days=1), datetime.min.time(), UTC) + timedelta(hours=12),
    )
    rest = {"amount": "3351.61", "paid_on": "2024-08-15", "bank_reference": "BANK-2"}
    assert (await trio.settlement.post(url, json=rest, headers=FINANCE)).status_code == 201
    by_creditor = {i["creditor"]: i for i in await invoices(trio)}
    assert by_creditor["investor"]["status"] == "paid" and by_creditor["investor"]["open_dkk"] == "0.00"
    assert by_creditor["provider"]["status"] == "overdue"
    assert [i["creditor"] for i in await invoices(trio, status="overdue")] == ["provider"]

    receivables = await trio.settlement.get(f"/v1/programmes/{PROGRAMME}/receivables", headers=FINANCE)
    rows = {r["creditor"]: r for r in receivables.json()["items"]}
    assert (
        rows["investor"]["owed_dkk"], rows["investor"]["paid_dkk"], rows["investor"]["open_dkk"],
        rows["investor"]["overdue_dkk"], rows["investor"]["held_by_disputes_dkk"],
    ) == ("5351.61", "5351.61", "0.00", "0.00", "0.00")  # fmt: skip
    assert (rows["provider"]["open_dkk"], rows["provider"]["overdue_dkk"]) == ("3567.74", "3567.74")
    own = await trio.settlement.get(f"/v1/programmes/{PROGRAMME}/receivables", headers=PROVIDER)
    assert [r["creditor"] for r in own.json()["items"]] == ["provider"]

    events = [
        PaymentRecordedV1.model_validate(e.data)
        for e in await outbox_events(trio.settlement)
        if e.type.endswith("payment.recorded.v1")
    ]
    assert sorted(e.bank_reference for e in events) == ["BANK-1", "BANK-2"]

    # The investor's realised IRR comes from the two payments received, beside the projected one.
    economics = await trio.settlement.get(f"/v1/programmes/{PROGRAMME}/economics", headers=INVESTOR)
    assert economics.status_code == 200, economics.text
    result = economics.json()["investor"]
    assert result["paid_to_date_dkk"] == "5351.61"
    assert result["realised_irr_annual"] is not None and "irr_annual" in result


async def test_a_statement_issued_before_any_parties_makes_no_invoice(trio: Trio) -> None:
    pid = await enrol(trio, "070761-4285")
    await status(trio, pid, "employed", "2024-03-15")
    await cutoff(trio, "2024-05-31")
    await wait_for_fee(trio, pid, "2024-05", "3500.00")
    await issue(trio, "2024-07")
    assert await invoices(trio) == []
