"""The computed fee months."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import (
    Boolean,
    Date,
    DateTime,
    Integer,
    String,
)
from sqlalchemy.orm import Mapped, mapped_column

from libs.common.db import Money
from services.settlement.models.base import Base


class MonthRow(Base):
    """A participant's month as last computed from stored state (recomputed, never incremented)."""

    __tablename__ = "participant_months"

    participant_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    month: Mapped[str] = mapped_column(String(7), primary_key=True)
    programme_id: Mapped[str] = mapped_column(String(64), index=True)
    in_window_days: Mapped[int] = mapped_column(Integer)
    self_supporting_days: Mapped[int] = mapped_column(Integer)
    public_support_days: Mapped[int] = mapped_column(Integer)
    unknown_days: Mapped[int] = mapped_column(Integer)
    provisional: Mapped[bool] = mapped_column(Boolean)
    fee_dkk: Mapped[Decimal] = mapped_column(Money())
    rule: Mapped[str] = mapped_column(String(16))
    fee_per_month_dkk: Mapped[Decimal] = mapped_column(Money())
    terms_version: Mapped[int] = mapped_column(Integer)
    cutoff_used: Mapped[date | None] = mapped_column(Date, nullable=True)
    computed_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
