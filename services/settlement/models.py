"""Settlement's tables."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    Date,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    String,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from libs.common.db import Money, make_metadata


class Base(DeclarativeBase):
    metadata = make_metadata()


class ProgrammeTermsRow(Base):
    """Settlement's copy of every published terms version, from programme.terms_published."""

    __tablename__ = "programme_terms"

    programme_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    version: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    effective_from: Mapped[date] = mapped_column(Date)
    terms: Mapped[dict[str, Any]] = mapped_column(JSON)
    received_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class ProgrammePartiesRow(Base):
    """Settlement's copy of every published version of a programme's parties, from
    programme.parties_published: who invoices whom, and into which account."""

    __tablename__ = "programme_parties"

    programme_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    version: Mapped[int] = mapped_column(Integer, primary_key=True)
    effective_from: Mapped[date] = mapped_column(Date)
    parties: Mapped[dict[str, Any]] = mapped_column(JSON)
    published_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    received_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class ParticipantRow(Base):
    """Settlement's copy of a participant, from intake's events."""

    __tablename__ = "participants"

    participant_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    programme_id: Mapped[str] = mapped_column(String(64), index=True)
    track: Mapped[str] = mapped_column(String(64))
    referred_on: Mapped[date] = mapped_column(Date)
    enrolled_on: Mapped[date | None] = mapped_column(Date, nullable=True)
    withdrawn_on: Mapped[date | None] = mapped_column(Date, nullable=True)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class StatusRecordRow(Base):
    """Settlement's copy of every status record, from progression's events."""

    __tablename__ = "status_records"
    # Every column a recompute reads of a participant's records (spans), so it does not read the table
    # itself, and led by valid_from after the participant: a recompute of some months reads only the
    # records that start before their end, not every record the participant has.
    __table_args__ = (
        Index(
            "ix_status_records_participant_validity",
            "participant_id",
            "valid_from",
            "valid_to",
            "recording_seq",
            "code",
        ),
    )

    record_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    participant_id: Mapped[str] = mapped_column(String(36))
    programme_id: Mapped[str] = mapped_column(String(64))
    code: Mapped[str] = mapped_column(String(32))
    valid_from: Mapped[date] = mapped_column(Date)
    valid_to: Mapped[date | None] = mapped_column(Date, nullable=True)
    recording_seq: Mapped[int] = mapped_column(Integer)
    recorded_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class CutoffRow(Base):
    """A move of a programme's data cut-off as progression recorded it: an advance or a retraction. The
    cut-off in force is the last one recorded."""

    __tablename__ = "cutoff_facts"

    programme_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    recorded_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), primary_key=True)
    complete_through: Mapped[date] = mapped_column(Date, primary_key=True)
    kind: Mapped[str] = mapped_column(String(16), default="advanced")


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


class RecordSequenceRow(Base):
    """Per participant: how many status records settlement holds and the highest recording_seq among
    them, kept as records are stored, so the gap check reads a row per participant instead of counting
    every record the participant has, which grew with each correction
    (docs/performance.md#second-session-2026-12-02, "Catch-up growth")."""

    __tablename__ = "record_sequences"

    participant_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    records_held: Mapped[int] = mapped_column(Integer)
    highest_seq: Mapped[int] = mapped_column(Integer)


class SequenceGapRow(Base):
    """A participant whose recording sequence has a hole (say seq 1 and 3 but not 2): resynced from
    progression's API unless the missing record arrives within the grace period."""

    __tablename__ = "sequence_gaps"

    participant_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    detected_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    highest_seq: Mapped[int] = mapped_column(Integer)
    records_held: Mapped[int] = mapped_column(Integer)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


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


class MeasurementCopyRow(Base):
    """Settlement's copy of the provider's progression measurements, from measurement.recorded."""

    __tablename__ = "measurements"

    measurement_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    participant_id: Mapped[str] = mapped_column(String(36))
    programme_id: Mapped[str] = mapped_column(String(64), index=True)
    measured_on: Mapped[date] = mapped_column(Date)
    scores: Mapped[dict[str, int]] = mapped_column(JSON)
    recorded_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
