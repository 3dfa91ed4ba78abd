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
