"""The learning track's inputs: economic assumptions and municipal spending."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    JSON,
    DateTime,
    Integer,
    String,
)
from sqlalchemy.orm import Mapped, mapped_column

from libs.common.db import Money
from services.settlement.models.base import Base


class EconomicAssumptionsRow(Base):
    """A programme's economic assumptions (benefit rates per year, the state refund staircase, ...),
    set by an admin; absent, the defaults from DOMAIN.md apply."""

    __tablename__ = "economic_assumptions"

    programme_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    assumptions: Mapped[dict[str, Any]] = mapped_column(JSON)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    updated_by: Mapped[str] = mapped_column(String(200))


class MunicipalSpendingRow(Base):
    """Learning track: the municipality's total spending on sickness benefit and job clarification
    in one year (DKK), entered by the jobcenter or an admin. ``history`` keeps every replaced value."""

    __tablename__ = "municipal_spending"

    programme_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    year: Mapped[int] = mapped_column(Integer, primary_key=True)
    spending_dkk: Mapped[Decimal] = mapped_column(Money())
    note: Mapped[str | None] = mapped_column(String(200), nullable=True)
    history: Mapped[list[dict[str, Any]]] = mapped_column(JSON)
    recorded_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    recorded_by: Mapped[str] = mapped_column(String(200))
