"""Progression's tables."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import JSON, Date, DateTime, Integer, String
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from libs.common.db import make_metadata


class Base(DeclarativeBase):
    metadata = make_metadata()


class ProgrammeRow(Base):
    """Progression's copy of what it needs of a programme, kept from programme.terms_published."""

    __tablename__ = "programmes"

    programme_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    terms_version: Mapped[int] = mapped_column(Integer)
    status_categories: Mapped[dict[str, Any]] = mapped_column(JSON)
    data_complete_through: Mapped[date | None] = mapped_column(Date, nullable=True)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
