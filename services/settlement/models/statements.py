"""Statements, their drafts, their lines and the line parts a rebuild waits on."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    JSON,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    String,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from libs.common.db import Money
from services.settlement.models.base import Base


class StatementRow(Base):
    """An issued statement: immutable. ``content`` is its hashed document without the lines
    (statement_id, programme_id, period, covers_through, terms_version, number, totals; a statement
    issued before drafts holds issued_at instead of number); the lines are the statement's rows in
    ``statement_lines``, ``line_count`` of them. ``number`` runs 1, 2, ... per programme in issue
    order; ``issued_at`` and ``issued_by`` (the approver) are metadata outside the hash."""

    __tablename__ = "statements"
    __table_args__ = (
        UniqueConstraint("programme_id", "period"),
        Index("uq_statements_programme_id_number", "programme_id", "number", unique=True),
    )

    statement_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    programme_id: Mapped[str] = mapped_column(String(64))
    period: Mapped[str] = mapped_column(String(7))
    covers_through: Mapped[str] = mapped_column(String(7))
    issued_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    issued_by: Mapped[str] = mapped_column(String(200))
    content: Mapped[dict[str, Any]] = mapped_column(JSON)
    sha256: Mapped[str] = mapped_column(String(64))
    line_count: Mapped[int] = mapped_column(Integer)
    number: Mapped[int] = mapped_column(Integer)


class StatementDraftRow(Base):
    """A statement's draft for a period: only what was computed when it was last prepared (sha256,
    totals, line count, the number it would get); its lines are computed afresh whenever read and never
    stored. At most one open (``draft``) draft per programme and period. Issued, it becomes the
    statement of the same id."""

    __tablename__ = "statement_drafts"
    __table_args__ = (
        Index(
            "uq_statement_drafts_open_period",
            "programme_id",
            "period",
            unique=True,
            sqlite_where=text("state = 'draft'"),
            postgresql_where=text("state = 'draft'"),
        ),
    )

    draft_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    programme_id: Mapped[str] = mapped_column(String(64), index=True)
    period: Mapped[str] = mapped_column(String(7))
    state: Mapped[str] = mapped_column(String(16))  # draft, discarded, issued
    prepared_by: Mapped[list[str]] = mapped_column(JSON)  # every sub that prepared or recomputed it
    prepared_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    computed_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    number: Mapped[int] = mapped_column(Integer)
    sha256: Mapped[str] = mapped_column(String(64))
    line_count: Mapped[int] = mapped_column(Integer)
    totals: Mapped[dict[str, Any]] = mapped_column(JSON)
    closed_by: Mapped[str | None] = mapped_column(String(200), nullable=True)  # approver or discarder
    closed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)


class StatementLineRow(Base):
    """A line of an issued statement. Clustered on (statement_id, line_no) (SQLite: WITHOUT ROWID) and
    with no other index: a statement inserts a line per citizen-month, so each b-tree more is paid per
    line; a programme's lines are found through its statements."""

    __tablename__ = "statement_lines"
    __table_args__ = {"sqlite_with_rowid": False}

    statement_id: Mapped[str] = mapped_column(ForeignKey("statements.statement_id"), primary_key=True)
    line_no: Mapped[int] = mapped_column(Integer, primary_key=True)
    programme_id: Mapped[str] = mapped_column(String(64))
    kind: Mapped[str] = mapped_column(String(16))
    participant_id: Mapped[str | None] = mapped_column(String(36), nullable=True)
    month: Mapped[str | None] = mapped_column(String(7), nullable=True)
    amount_dkk: Mapped[Decimal] = mapped_column(Money())
    corrects_statement_id: Mapped[str | None] = mapped_column(String(36), nullable=True)
    corrects_line_no: Mapped[int | None] = mapped_column(Integer, nullable=True)


class StatementLinePartRow(Base):
    """A part of a statement's lines (statement.lines.v1) received before the statement.issued.v2
    that completes it: kept here until then (in a rebuild), then moved into statement_lines."""

    __tablename__ = "statement_line_parts"

    statement_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    part: Mapped[int] = mapped_column(Integer, primary_key=True)
    programme_id: Mapped[str] = mapped_column(String(64))
    first_line_no: Mapped[int] = mapped_column(Integer)
    lines: Mapped[list[list[Any]]] = mapped_column(JSON)
    received_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
