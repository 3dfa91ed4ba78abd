"""Invoices, their per-creditor counters and their payments: add and flush, never commit."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession

from services.settlement.models import InvoiceCounterRow, InvoiceRow, PaymentRow, StatementLineRow


class InvoiceRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def next_sequence(self, seller_cvr: str) -> int:
        """The creditor's next invoice number, its counter row locked until the transaction ends (on
        PostgreSQL; SQLite has one writer at a time), so numbers follow commits without a gap."""
        insert = pg_insert if self.session.get_bind().dialect.name == "postgresql" else sqlite_insert
        await self.session.execute(
            insert(InvoiceCounterRow)
            .values(seller_cvr=seller_cvr, last_sequence=0)
            .on_conflict_do_nothing(index_elements=["seller_cvr"])
        )
        counter = (
            await self.session.execute(
                select(InvoiceCounterRow)
                .where(InvoiceCounterRow.seller_cvr == seller_cvr)
                .with_for_update()
                .execution_options(populate_existing=True)
            )
        ).scalar_one()
        counter.last_sequence += 1
        return counter.last_sequence

    async def get(self, invoice_id: str) -> InvoiceRow | None:
        return await self.session.get(InvoiceRow, invoice_id)

    async def of_statements(self, statement_ids: Sequence[str], creditor: str) -> Sequence[InvoiceRow]:
        if not statement_ids:
            return []
        query = select(InvoiceRow).where(
            InvoiceRow.statement_id.in_(statement_ids), InvoiceRow.creditor == creditor
        )
        return (await self.session.execute(query.order_by(InvoiceRow.sequence))).scalars().all()

    async def of_programme(
        self,
        programme_id: str,
        creditor: str | None = None,
        document_type: str | None = None,
        statement_id: str | None = None,
        issued_from: date | None = None,
        issued_to: date | None = None,
    ) -> Sequence[InvoiceRow]:
        query = select(InvoiceRow).where(InvoiceRow.programme_id == programme_id)
        if creditor is not None:
            query = query.where(InvoiceRow.creditor == creditor)
        if document_type is not None:
            query = query.where(InvoiceRow.document_type == document_type)
        if statement_id is not None:
            query = query.where(InvoiceRow.statement_id == statement_id)
        if issued_from is not None:
            query = query.where(InvoiceRow.issue_date >= issued_from)
        if issued_to is not None:
            query = query.where(InvoiceRow.issue_date <= issued_to)
        order = (InvoiceRow.issue_date, InvoiceRow.creditor, InvoiceRow.sequence)
        return (await self.session.execute(query.order_by(*order))).scalars().all()

    async def of_creditor(self, programme_id: str, creditor: str) -> Sequence[InvoiceRow]:
        return await self.of_programme(programme_id, creditor=creditor)

    def add(self, row: InvoiceRow | PaymentRow) -> None:
        self.session.add(row)

    async def flush(self) -> None:
        await self.session.flush()

    async def payments_of(self, invoice_id: str) -> Sequence[PaymentRow]:
        query = select(PaymentRow).where(PaymentRow.invoice_id == invoice_id)
        return (
            (await self.session.execute(query.order_by(PaymentRow.paid_on, PaymentRow.recorded_at)))
            .scalars()
            .all()
        )

    async def payment_by_reference(self, invoice_id: str, bank_reference: str) -> PaymentRow | None:
        query = select(PaymentRow).where(
            PaymentRow.invoice_id == invoice_id, PaymentRow.bank_reference == bank_reference
        )
        return (await self.session.execute(query)).scalar_one_or_none()

    async def paid_per_invoice(self, programme_id: str) -> dict[str, Decimal]:
        """Payments summed per invoice, in Python: SQLite keeps money as text, and its SUM is a float."""
        query = select(PaymentRow.invoice_id, PaymentRow.amount_dkk).where(
            PaymentRow.programme_id == programme_id
        )
        paid: dict[str, Decimal] = {}
        for invoice_id, amount in (await self.session.execute(query)).all():
            paid[invoice_id] = paid.get(invoice_id, Decimal("0.00")) + amount
        return paid

    async def payments_of_creditor(self, programme_id: str, creditor: str) -> list[tuple[date, Decimal]]:
        """(paid_on, amount) of every payment on the creditor's invoices, by date."""
        query = (
            select(PaymentRow.paid_on, PaymentRow.amount_dkk)
            .join(InvoiceRow, InvoiceRow.invoice_id == PaymentRow.invoice_id)
            .where(PaymentRow.programme_id == programme_id, InvoiceRow.creditor == creditor)
            .order_by(PaymentRow.paid_on)
        )
        return [(paid_on, amount) for paid_on, amount in (await self.session.execute(query)).all()]


async def corrected_statements(session: AsyncSession, statement_id: str) -> list[str]:
    """The statements whose lines this statement's adjustment lines correct."""
    query = (
        select(StatementLineRow.corrects_statement_id)
        .where(
            StatementLineRow.statement_id == statement_id,
            StatementLineRow.corrects_statement_id.is_not(None),
        )
        .distinct()
    )
    return sorted(str(s) for s in (await session.execute(query)).scalars().all())
