"""E-invoices, their per-seller counters and the payments recorded on them."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import (
    JSON,
    Date,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    String,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from libs.common.db import Money
from services.settlement.models.base import Base


class InvoiceCounterRow(Base):
    """The last invoice number given to a creditor (by CVR: a provider in two programmes is one seller
    with one series); locked in the issuing transaction, so a rolled-back issue uses no number."""

    __tablename__ = "invoice_counters"

    seller_cvr: Mapped[str] = mapped_column(String(8), primary_key=True)
    last_sequence: Mapped[int] = mapped_column(Integer)


class InvoiceRow(Base):
    """A creditor's e-invoice (or credit note) of one issued statement: the values its document is
    rendered from, never the document itself (it is rendered again, byte for byte, when asked)."""

    __tablename__ = "invoices"
    __table_args__ = (
        UniqueConstraint("seller_cvr", "sequence"),
        UniqueConstraint("statement_id", "creditor"),
        Index("ix_invoices_programme", "programme_id", "issue_date"),
    )

    invoice_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    programme_id: Mapped[str] = mapped_column(String(64))
    statement_id: Mapped[str] = mapped_column(ForeignKey("statements.statement_id"))
    creditor: Mapped[str] = mapped_column(String(16))  # provider or investor
    seller_cvr: Mapped[str] = mapped_column(String(8))
    sequence: Mapped[int] = mapped_column(Integer)
    number: Mapped[str] = mapped_column(String(32))
    document_type: Mapped[str] = mapped_column(String(16))  # invoice or credit_note
    issue_date: Mapped[date] = mapped_column(Date)
    due_date: Mapped[date] = mapped_column(Date)
    amount_dkk: Mapped[Decimal] = mapped_column(Money())  # the creditor's share, signed as the statement's
    payable_dkk: Mapped[Decimal] = mapped_column(Money())  # the share with VAT, as the document says it
    parties_version: Mapped[int] = mapped_column(Integer)
    terms_version: Mapped[int] = mapped_column(Integer)
    corrects: Mapped[list[str]] = mapped_column(JSON)  # invoice ids a credit note cites
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class PaymentRow(Base):
    """A payment the municipality made on an invoice, as finance recorded it."""

    __tablename__ = "invoice_payments"
    __table_args__ = (UniqueConstraint("invoice_id", "bank_reference"),)

    payment_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    invoice_id: Mapped[str] = mapped_column(ForeignKey("invoices.invoice_id"), index=True)
    programme_id: Mapped[str] = mapped_column(String(64), index=True)
    amount_dkk: Mapped[Decimal] = mapped_column(Money())
    paid_on: Mapped[date] = mapped_column(Date)
    bank_reference: Mapped[str] = mapped_column(String(100))
    recorded_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    recorded_by: Mapped[str] = mapped_column(String(200))
