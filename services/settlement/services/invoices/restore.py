"""Restoring invoices, their counters and payments from settlement's own events in a rebuild: live they
are stored already (the event is published in the transaction that stored them), so nothing is done."""

from __future__ import annotations

from sqlalchemy import select

from libs.common.contracts import InvoiceIssuedV1, PaymentRecordedV1
from libs.common.uow import UnitOfWork
from services.settlement.models import InvoiceCounterRow, InvoiceRow, PaymentRow


async def restore_invoice(uow: UnitOfWork, event: InvoiceIssuedV1) -> bool:
    """Store the invoice unless it is held, and raise its seller's counter to its sequence (the stream
    holds every number given, in order, so the highest is the counter's value)."""
    session = uow.session
    if await session.get(InvoiceRow, event.invoice_id) is not None:
        return False
    missing = [
        name
        for name in ("seller_cvr", "payable_dkk", "parties_version", "terms_version", "created_at")
        if getattr(event, name) is None
    ]
    if missing:  # published before these fields were added: the row cannot be made faithfully
        raise ValueError(f"invoice {event.invoice_id}: invoice.issued.v1 without {', '.join(missing)}")
    assert event.seller_cvr is not None and event.payable_dkk is not None  # for mypy: checked above
    assert event.parties_version is not None and event.terms_version is not None
    assert event.created_at is not None
    counter = (
        await session.execute(
            select(InvoiceCounterRow).where(InvoiceCounterRow.seller_cvr == event.seller_cvr)
        )
    ).scalar_one_or_none()
    if counter is None:
        session.add(InvoiceCounterRow(seller_cvr=event.seller_cvr, last_sequence=event.sequence))
    else:
        counter.last_sequence = max(counter.last_sequence, event.sequence)
    session.add(
        InvoiceRow(
            invoice_id=event.invoice_id,
            programme_id=event.programme_id,
            statement_id=event.statement_id,
            creditor=event.creditor,
            seller_cvr=event.seller_cvr,
            sequence=event.sequence,
            number=event.number,
            document_type=event.document_type,
            issue_date=event.issue_date,
            due_date=event.due_date,
            amount_dkk=event.amount_dkk,
            payable_dkk=event.payable_dkk,
            parties_version=event.parties_version,
            terms_version=event.terms_version,
            corrects=list(event.corrects),
            created_at=event.created_at,
        )
    )
    await session.flush()
    return True


async def restore_payment(uow: UnitOfWork, event: PaymentRecordedV1) -> bool:
    """Store the payment unless it is held; its invoice comes before it on the stream."""
    session = uow.session
    if await session.get(PaymentRow, event.payment_id) is not None:
        return False
    if event.recorded_by is None:  # published before recorded_by was added
        raise ValueError(f"payment {event.payment_id}: payment.recorded.v1 without recorded_by")
    if await session.get(InvoiceRow, event.invoice_id) is None:
        raise ValueError(f"payment {event.payment_id}: invoice {event.invoice_id} is not held")
    session.add(
        PaymentRow(
            payment_id=event.payment_id,
            invoice_id=event.invoice_id,
            programme_id=event.programme_id,
            amount_dkk=event.amount_dkk,
            paid_on=event.paid_on,
            bank_reference=event.bank_reference,
            recorded_at=event.recorded_at,
            recorded_by=event.recorded_by,
        )
    )
    await session.flush()
    return True
