"""Invoices, credit notes and payments (DOMAIN.md "Invoices and payments"): what is still owed on each
document and the status it has, computed from the documents and the payments, never stored.

- A document's ``amount`` is what it asks to be paid: the creditor's share of its statement with VAT
  (none when exempt), signed as the statement's: an invoice's is positive, a credit note's negative.
- Payments are applied to the invoice they were recorded on. Credit notes are applied after payments:
  in issue order, each to the invoices it cites (oldest first), up to what each still has open. A credit
  note's amount that finds nothing open (its invoices were paid already) stays **unapplied**: the
  creditor owes it back, and the receivables show it.
- Status of an invoice: ``credited`` when credit notes cover all of it; else ``paid`` when nothing is
  open (payments, with any credit, cover it); else ``overdue`` when today is after its due date; else
  ``partially_paid`` when something was paid or credited; else ``open``. A credit note is ``credited``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import ROUND_HALF_UP, Decimal
from enum import StrEnum

from services.settlement.domain.months import ORE

ZERO = Decimal("0.00")


class DocumentKind(StrEnum):
    invoice = "invoice"
    credit_note = "credit_note"


class InvoiceStatus(StrEnum):
    open = "open"
    partially_paid = "partially_paid"
    paid = "paid"
    overdue = "overdue"
    credited = "credited"


class PaymentRefused(ValueError):
    """A payment the rules refuse; ``field`` names the request field at fault."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field


def document_kind(share: Decimal) -> DocumentKind:
    """An invoice for a positive share, a credit note for a negative one (a zero share makes none)."""
    if share == ZERO:
        raise ValueError("a share of zero makes no document")
    return DocumentKind.invoice if share > 0 else DocumentKind.credit_note


def payable(share: Decimal, vat_percent: Decimal) -> Decimal:
    """The share with its VAT, signed as the share: the VAT is rounded half-up (away from zero) to øre,
    as the document's totals are (``einvoice.EInvoice.totals``), so a credit note's is the mirror."""
    return share + (share * vat_percent / 100).quantize(ORE, rounding=ROUND_HALF_UP)


def due_date(issue_date: date, payment_terms_days: int) -> date:
    return issue_date + timedelta(days=payment_terms_days)


@dataclass(frozen=True)
class Document:
    invoice_id: str
    kind: DocumentKind
    amount: Decimal  # signed as the statement's share
    issue_date: date
    due_date: date
    sequence: int  # the creditor's number: orders documents by issue
    corrects: tuple[str, ...] = ()


@dataclass(frozen=True)
class Balance:
    """Where one document stands. For a credit note, ``credited`` is what it applied to invoices and
    ``open`` is its unapplied part (negative: owed back by the creditor)."""

    invoice_id: str
    paid: Decimal
    credited: Decimal
    open: Decimal
    status: InvoiceStatus


def balances(documents: Iterable[Document], paid: Mapping[str, Decimal], today: date) -> dict[str, Balance]:
    """The balance and status of every document of one creditor, given the payments per invoice."""
    ordered = sorted(documents, key=lambda d: d.sequence)
    invoices = {d.invoice_id: d for d in ordered if d.kind is DocumentKind.invoice}
    remaining = {i: d.amount - paid.get(i, ZERO) for i, d in invoices.items()}
    credited = dict.fromkeys(invoices, ZERO)
    unapplied: dict[str, Decimal] = {}
    for note in (d for d in ordered if d.kind is DocumentKind.credit_note):
        left = -note.amount
        cited = sorted((invoices[i] for i in note.corrects if i in invoices), key=lambda d: d.sequence)
        for invoice in cited:
            take = min(left, max(remaining[invoice.invoice_id], ZERO))
            remaining[invoice.invoice_id] -= take
            credited[invoice.invoice_id] += take
            left -= take
        unapplied[note.invoice_id] = left
    out: dict[str, Balance] = {}
    for document in ordered:
        if document.kind is DocumentKind.credit_note:
            left = unapplied[document.invoice_id]
            out[document.invoice_id] = Balance(
                document.invoice_id, ZERO, -document.amount - left, -left, InvoiceStatus.credited
            )
            continue
        i = document.invoice_id
        out[i] = Balance(
            i,
            paid.get(i, ZERO),
            credited[i],
            remaining[i],
            _status(document, paid.get(i, ZERO), credited[i], remaining[i], today),
        )
    return out


def _status(
    document: Document, paid: Decimal, credited: Decimal, remaining: Decimal, today: date
) -> InvoiceStatus:
    if credited >= document.amount:
        return InvoiceStatus.credited
    if remaining <= ZERO:
        return InvoiceStatus.paid
    if today > document.due_date:
        return InvoiceStatus.overdue
    if paid > ZERO or credited > ZERO:
        return InvoiceStatus.partially_paid
    return InvoiceStatus.open


def check_payment(document: Document, balance: Balance, amount: Decimal) -> None:
    """A payment is above zero, on an invoice (never a credit note) and at most what is open on it."""
    if document.kind is DocumentKind.credit_note:
        raise PaymentRefused("invoice_id", "a credit note is not paid: the creditor owes its amount back")
    if amount <= ZERO:
        raise PaymentRefused("amount", "must be above zero")
    if amount > balance.open:
        raise PaymentRefused("amount", f"is more than the {balance.open} DKK open on the invoice")
