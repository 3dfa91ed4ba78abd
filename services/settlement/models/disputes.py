"""Disputes of statement lines, the lines each holds and their steps."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from sqlalchemy import (
    JSON,
    Boolean,
    DateTime,
    ForeignKey,
    Integer,
    String,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from libs.common.db import Money
from services.settlement.models.base import Base


class DisputeRow(Base):
    """A dispute of lines of an issued statement (services/disputes/): its target, amount held while
    open (and each creditor's share of it, fixed when opened), state and the opener."""

    __tablename__ = "disputes"

    dispute_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    programme_id: Mapped[str] = mapped_column(String(64), index=True)
    statement_id: Mapped[str] = mapped_column(ForeignKey("statements.statement_id"))
    line_no: Mapped[int | None] = mapped_column(Integer, nullable=True)  # None: a (month, kind) cell
    month: Mapped[str] = mapped_column(String(7))
    kind: Mapped[str] = mapped_column(String(16))
    reason_code: Mapped[str] = mapped_column(String(32))
    text: Mapped[str] = mapped_column(String(2000))
    evidence: Mapped[dict[str, list[str]]] = mapped_column(JSON)
    amount_dkk: Mapped[Decimal] = mapped_column(Money())
    investor_dkk: Mapped[Decimal] = mapped_column(Money())
    provider_dkk: Mapped[Decimal] = mapped_column(Money())
    citizens: Mapped[int] = mapped_column(Integer)
    state: Mapped[str] = mapped_column(String(16))
    opened_by: Mapped[str] = mapped_column(String(200))
    opened_role: Mapped[str] = mapped_column(String(32))
    opened_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    closed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    resolution_reason: Mapped[str | None] = mapped_column(String(2000), nullable=True)


class DisputeLineRow(Base):
    """A line a dispute covers. ``held`` is true while the dispute is open and null after: unique with
    the line, so a line has at most one open dispute (nulls never collide)."""

    __tablename__ = "dispute_lines"
    __table_args__ = (UniqueConstraint("statement_id", "line_no", "held"),)

    dispute_id: Mapped[str] = mapped_column(ForeignKey("disputes.dispute_id"), primary_key=True)
    line_no: Mapped[int] = mapped_column(Integer, primary_key=True)
    statement_id: Mapped[str] = mapped_column(String(36))
    participant_id: Mapped[str] = mapped_column(String(36))
    month: Mapped[str] = mapped_column(String(7))
    amount_dkk: Mapped[Decimal] = mapped_column(Money())
    held: Mapped[bool | None] = mapped_column(Boolean, nullable=True)


class DisputeStepRow(Base):
    """A step of a dispute (opened, upheld, rejected, withdrawn): who (sub, role) and when."""

    __tablename__ = "dispute_steps"

    dispute_id: Mapped[str] = mapped_column(ForeignKey("disputes.dispute_id"), primary_key=True)
    seq: Mapped[int] = mapped_column(Integer, primary_key=True)
    step: Mapped[str] = mapped_column(String(16))
    by_subject: Mapped[str] = mapped_column(String(200))
    by_role: Mapped[str] = mapped_column(String(32))
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    reason: Mapped[str | None] = mapped_column(String(2000), nullable=True)
