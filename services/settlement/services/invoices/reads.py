"""Invoices read: metadata with the computed status, the document, the receivables per creditor."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from libs.common import clock
from libs.common.auth import Principal, Role
from libs.common.dates import today_in_denmark
from libs.common.db import Database
from libs.common.errors import Forbidden, NotFound
from libs.common.uow import UnitOfWork
from services.settlement.domain.invoices import (
    ZERO,
    Balance,
    Document,
    DocumentKind,
    InvoiceStatus,
    balances,
)
from services.settlement.einvoice import EInvoice, render, to_xml
from services.settlement.models import InvoiceRow
from services.settlement.repository.disputes import DisputeRepository
from services.settlement.repository.invoices import InvoiceRepository
from services.settlement.services.invoices.create import CREDITORS
from services.settlement.services.invoices.documents import load_document

# A token says a role, not which party its user speaks for: a provider reads the provider's invoices,
# an investor the investor's; the municipality's roles read both.
OWN_CREDITOR = {Role.provider: "provider", Role.investor: "investor"}


def today() -> date:
    """Today in Denmark (tests move it through ``libs.common.clock.utcnow``)."""
    return today_in_denmark(clock.utcnow())


@dataclass(frozen=True)
class InvoiceView:
    invoice_id: str
    programme_id: str
    statement_id: str
    creditor: str
    seller_cvr: str
    number: str
    sequence: int
    document_type: str
    issue_date: date
    due_date: date
    amount_dkk: Decimal
    payable_dkk: Decimal
    paid_dkk: Decimal
    credited_dkk: Decimal
    open_dkk: Decimal
    status: InvoiceStatus
    corrects: list[str]
    parties_version: int
    terms_version: int


def as_document(row: InvoiceRow) -> Document:
    return Document(
        row.invoice_id,
        DocumentKind(row.document_type),
        row.payable_dkk,
        row.issue_date,
        row.due_date,
        row.sequence,
        tuple(row.corrects),
    )


def view(row: InvoiceRow, balance: Balance) -> InvoiceView:
    return InvoiceView(
        invoice_id=row.invoice_id,
        programme_id=row.programme_id,
        statement_id=row.statement_id,
        creditor=row.creditor,
        seller_cvr=row.seller_cvr,
        number=row.number,
        sequence=row.sequence,
        document_type=row.document_type,
        issue_date=row.issue_date,
        due_date=row.due_date,
        amount_dkk=row.amount_dkk,
        payable_dkk=row.payable_dkk,
        paid_dkk=balance.paid,
        credited_dkk=balance.credited,
        open_dkk=balance.open,
        status=balance.status,
        corrects=list(row.corrects),
        parties_version=row.parties_version,
        terms_version=row.terms_version,
    )


async def creditor_balances(
    uow: UnitOfWork, programme_id: str, creditor: str, day: date
) -> dict[str, Balance]:
    """Every document of one creditor of a programme with its balance (credit notes offset across
    that creditor's invoices of the programme, so all of them are read)."""
    repository = InvoiceRepository(uow.session)
    rows = await repository.of_creditor(programme_id, creditor)
    paid = await repository.paid_per_invoice(programme_id)
    return balances([as_document(row) for row in rows], paid, day)


def _creditor_for(principal: Principal, asked: str | None) -> str | None:
    own = OWN_CREDITOR.get(principal.role)
    if own is not None and asked is not None and asked != own:
        raise Forbidden(f"A {principal.role.value} reads the {own}'s invoices only.")
    return own or asked


async def list_invoices(
    database: Database,
    principal: Principal,
    programme_id: str,
    creditor: str | None = None,
    document_type: str | None = None,
    status: InvoiceStatus | None = None,
    statement_id: str | None = None,
    issued_from: date | None = None,
    issued_to: date | None = None,
) -> list[InvoiceView]:
    principal.require_programme(programme_id)
    wanted = _creditor_for(principal, creditor)
    day = today()
    async with UnitOfWork(database) as uow:
        rows = await InvoiceRepository(uow.session).of_programme(
            programme_id, wanted, document_type, statement_id, issued_from, issued_to
        )
        found: dict[str, Balance] = {}
        for name in sorted({row.creditor for row in rows}):
            found |= await creditor_balances(uow, programme_id, name, day)
    views = [view(row, found[row.invoice_id]) for row in rows]
    return [v for v in views if status is None or v.status is status]


async def readable_invoice(uow: UnitOfWork, principal: Principal, invoice_id: str) -> InvoiceRow:
    """The invoice if this principal may read it; 404 otherwise, as if it did not exist."""
    row = await InvoiceRepository(uow.session).get(invoice_id)
    own = OWN_CREDITOR.get(principal.role)
    if row is None or not principal.can_access(row.programme_id) or own not in (None, row.creditor):
        raise NotFound(f"No invoice {invoice_id}.")
    return row


async def get_invoice(database: Database, principal: Principal, invoice_id: str) -> InvoiceView:
    async with UnitOfWork(database) as uow:
        row = await readable_invoice(uow, principal, invoice_id)
        found = await creditor_balances(uow, row.programme_id, row.creditor, today())
    return view(row, found[invoice_id])


async def invoice_document(
    database: Database, principal: Principal, invoice_id: str
) -> tuple[InvoiceRow, EInvoice]:
    async with UnitOfWork(database) as uow:
        row = await readable_invoice(uow, principal, invoice_id)
        return row, await load_document(uow, row)


def document_bytes(document: EInvoice, html: bool) -> bytes:
    return render(document).encode("utf-8") if html else to_xml(document)


@dataclass(frozen=True)
class Receivable:
    """One creditor's account with the municipality, in DKK with VAT as the documents ask."""

    creditor: str
    seller_cvr: str | None
    invoices: int
    credit_notes: int
    owed_dkk: Decimal  # invoices minus credit notes
    paid_dkk: Decimal
    open_dkk: Decimal  # still to be paid on the invoices
    overdue_dkk: Decimal  # the part of open_dkk on invoices past their due date
    unapplied_credit_dkk: Decimal  # credit notes that found nothing open: owed back by the creditor
    held_by_disputes_dkk: Decimal


def receivable(
    creditor: str, rows: Sequence[InvoiceRow], found: dict[str, Balance], held: Decimal
) -> Receivable:
    invoices = [row for row in rows if row.document_type == DocumentKind.invoice]
    notes = [row for row in rows if row.document_type == DocumentKind.credit_note]
    return Receivable(
        creditor=creditor,
        seller_cvr=rows[-1].seller_cvr if rows else None,
        invoices=len(invoices),
        credit_notes=len(notes),
        owed_dkk=sum((row.payable_dkk for row in rows), ZERO),
        paid_dkk=sum((found[row.invoice_id].paid for row in invoices), ZERO),
        open_dkk=sum((found[row.invoice_id].open for row in invoices), ZERO),
        overdue_dkk=sum(
            (
                found[r.invoice_id].open
                for r in invoices
                if found[r.invoice_id].status is InvoiceStatus.overdue
            ),
            ZERO,
        ),
        unapplied_credit_dkk=sum((-found[row.invoice_id].open for row in notes), ZERO),
        held_by_disputes_dkk=held,
    )


async def receivables(database: Database, principal: Principal, programme_id: str) -> list[Receivable]:
    """A row per creditor (a provider or an investor sees its own row only)."""
    principal.require_programme(programme_id)
    own = OWN_CREDITOR.get(principal.role)
    day = today()
    out: list[Receivable] = []
    async with UnitOfWork(database) as uow:
        held = await DisputeRepository(uow.session).held_by_creditor(programme_id)
        for creditor in CREDITORS if own is None else (own,):
            rows = await InvoiceRepository(uow.session).of_creditor(programme_id, creditor)
            found = await creditor_balances(uow, programme_id, creditor, day)
            out.append(receivable(creditor, rows, found, held.get(creditor, ZERO)))
    return out
