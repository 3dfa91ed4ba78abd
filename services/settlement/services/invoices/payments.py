"""Payments finance records on invoices: once per (invoice, bank reference), at most what is open."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from libs.common.auth import Principal
from libs.common.clock import as_utc, utcnow
from libs.common.contracts import PaymentRecordedV1
from libs.common.db import Database
from libs.common.errors import Conflict, ValidationFailed
from libs.common.events import new_event
from libs.common.uow import UnitOfWork
from services.settlement.domain.invoices import PaymentRefused, check_payment
from services.settlement.models import InvoiceCounterRow, PaymentRow
from services.settlement.repository.invoices import InvoiceRepository
from services.settlement.services.invoices.reads import (
    as_document,
    creditor_balances,
    readable_invoice,
    today,
)


@dataclass(frozen=True)
class PaymentView:
    payment_id: str
    invoice_id: str
    amount_dkk: Decimal
    paid_on: date
    bank_reference: str
    recorded_at: datetime
    recorded_by: str


@dataclass(frozen=True)
class Recorded:
    payment: PaymentView
    created: bool


def payment_view(row: PaymentRow) -> PaymentView:
    return PaymentView(
        row.payment_id, row.invoice_id, row.amount_dkk, row.paid_on, row.bank_reference,
        as_utc(row.recorded_at), row.recorded_by,
    )  # fmt: skip


def _same_or_conflict(row: PaymentRow, amount: Decimal, paid_on: date) -> Recorded:
    if row.amount_dkk != amount or row.paid_on != paid_on:
        raise Conflict(
            "A payment with this bank_reference is recorded on the invoice with another amount or date.",
            errors=[{"field": "bank_reference", "message": "already recorded with another body"}],
        )
    return Recorded(payment_view(row), created=False)


async def record_payment(
    database: Database,
    principal: Principal,
    invoice_id: str,
    amount: Decimal,
    paid_on: date,
    bank_reference: str,
) -> Recorded:
    """Record a payment; the same bank reference again with the same amount and date returns the
    payment recorded (a retry), with another amount or date 409."""
    try:
        async with UnitOfWork(database) as uow:
            row = await readable_invoice(uow, principal, invoice_id)
            # Payments on one seller's invoices are recorded one at a time (its counter row, locked),
            # so two payments cannot both fit in the same open amount.
            await uow.session.execute(
                select(InvoiceCounterRow.last_sequence)
                .where(InvoiceCounterRow.seller_cvr == row.seller_cvr)
                .with_for_update()
            )
            repository = InvoiceRepository(uow.session)
            existing = await repository.payment_by_reference(invoice_id, bank_reference)
            if existing is not None:
                return _same_or_conflict(existing, amount, paid_on)
            found = await creditor_balances(uow, row.programme_id, row.creditor, today())
            try:
                check_payment(as_document(row), found[invoice_id], amount)
            except PaymentRefused as refused:
                raise ValidationFailed.for_field(refused.field, str(refused)) from refused
            payment = PaymentRow(
                payment_id=str(uuid.uuid4()),
                invoice_id=invoice_id,
                programme_id=row.programme_id,
                amount_dkk=amount,
                paid_on=paid_on,
                bank_reference=bank_reference,
                recorded_at=utcnow(),
                recorded_by=principal.subject,
            )
            repository.add(payment)
            uow.emit(
                new_event(
                    PaymentRecordedV1(
                        payment_id=payment.payment_id,
                        invoice_id=invoice_id,
                        programme_id=row.programme_id,
                        creditor=row.creditor,
                        amount_dkk=amount,
                        paid_on=paid_on,
                        bank_reference=bank_reference,
                        recorded_at=payment.recorded_at,
                        recorded_by=payment.recorded_by,
                    ),
                    subject=f"programme/{row.programme_id}",
                )
            )
            await uow.commit()
    except IntegrityError:
        # A concurrent retry with the same reference committed first.
        async with UnitOfWork(database) as uow:
            again = await InvoiceRepository(uow.session).payment_by_reference(invoice_id, bank_reference)
        if again is None:
            raise
        return _same_or_conflict(again, amount, paid_on)
    return Recorded(payment_view(payment), created=True)


async def payments_of(database: Database, principal: Principal, invoice_id: str) -> list[PaymentView]:
    async with UnitOfWork(database) as uow:
        await readable_invoice(uow, principal, invoice_id)
        return [payment_view(row) for row in await InvoiceRepository(uow.session).payments_of(invoice_id)]
