"""Intake's tables."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Date,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from libs.common.db import make_metadata
from libs.common.readaudit import read_audit_tables


class Base(DeclarativeBase):
    metadata = make_metadata()


# The read audit (libs/common/readaudit): a chained row per read of person-level data.
READ_AUDIT = read_audit_tables(Base.metadata)


class ProgrammeRow(Base):
    __tablename__ = "programmes"

    programme_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    # The last month an issued statement covers (from settlement's statement.issued events): a new
    # terms version must take effect after it.
    invoiced_through: Mapped[str | None] = mapped_column(String(7), nullable=True)


class ProgrammeTermsRow(Base):
    """One published version of the terms; never updated once written."""

    __tablename__ = "programme_terms"

    programme_id: Mapped[str] = mapped_column(ForeignKey("programmes.programme_id"), primary_key=True)
    version: Mapped[int] = mapped_column(Integer, primary_key=True)
    effective_from: Mapped[date] = mapped_column(Date)
    terms: Mapped[dict[str, Any]] = mapped_column(JSON)
    published_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class ProgrammePartiesRow(Base):
    """One published version of the programme's parties; never updated once written."""

    __tablename__ = "programme_parties"

    programme_id: Mapped[str] = mapped_column(ForeignKey("programmes.programme_id"), primary_key=True)
    version: Mapped[int] = mapped_column(Integer, primary_key=True)
    effective_from: Mapped[date] = mapped_column(Date)
    parties: Mapped[dict[str, Any]] = mapped_column(JSON)
    published_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    recorded_by: Mapped[str] = mapped_column(String(200))  # the token's sub


class ParticipantRow(Base):
    __tablename__ = "participants"
    __table_args__ = (
        # One participant per citizen per programme; the pseudonym is the keyed HMAC of the CPR.
        UniqueConstraint("programme_id", "cpr_pseudonym"),
        Index("ix_participants_programme_track_status", "programme_id", "track", "status"),
    )

    participant_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    programme_id: Mapped[str] = mapped_column(ForeignKey("programmes.programme_id"))
    track: Mapped[str] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(16))
    cpr_pseudonym: Mapped[str] = mapped_column(String(64), index=True)
    cpr_encrypted: Mapped[str] = mapped_column(Text)
    referred_on: Mapped[date] = mapped_column(Date)
    enrolled_on: Mapped[date | None] = mapped_column(Date, nullable=True)
    consent_given_on: Mapped[date | None] = mapped_column(Date, nullable=True)
    withdrawn_on: Mapped[date | None] = mapped_column(Date, nullable=True)
    withdrawal_reason: Mapped[str | None] = mapped_column(String(32), nullable=True)
    coach_name: Mapped[str | None] = mapped_column(String(200), nullable=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class TrackSeatsRow(Base):
    """The seats taken on a track: one more with each enrolment, under the programme's lock (counting
    the enrolled participants on every enrolment read the whole programme: quadratic in its size)."""

    __tablename__ = "track_seats"

    programme_id: Mapped[str] = mapped_column(ForeignKey("programmes.programme_id"), primary_key=True)
    track: Mapped[str] = mapped_column(String(64), primary_key=True)
    taken: Mapped[int] = mapped_column(Integer)


class CprAuditRow(Base):
    """Append-only: every read or write of a CPR number. Triggers refuse UPDATE and DELETE."""

    __tablename__ = "cpr_audit"

    seq: Mapped[int] = mapped_column(
        BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True
    )
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)
    actor: Mapped[str] = mapped_column(String(200))
    role: Mapped[str] = mapped_column(String(32))
    action: Mapped[str] = mapped_column(String(16))
    endpoint: Mapped[str] = mapped_column(String(200))
    participant_id: Mapped[str | None] = mapped_column(String(36), nullable=True, index=True)
    correlation_id: Mapped[str | None] = mapped_column(String(128), nullable=True)
    # What a run over many rows did (a key rotation's counts); never a CPR number.
    detail: Mapped[str | None] = mapped_column(String(200), nullable=True)


class IdempotencyKeyRow(Base):
    """A client's Idempotency-Key: a retry with the same key and request replays the first result."""

    __tablename__ = "idempotency_keys"

    actor: Mapped[str] = mapped_column(String(200), primary_key=True)
    key: Mapped[str] = mapped_column(String(200), primary_key=True)
    endpoint: Mapped[str] = mapped_column(String(200))
    request_fingerprint: Mapped[str] = mapped_column(String(64))
    resource_id: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class ErasureRow(Base):
    """An erasure order, or a done erasure (one per participant): the participant id stays, for
    idempotency and accountability; nothing else of the citizen (no CPR, pseudonym or dates)."""

    __tablename__ = "erasures"

    erasure_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    participant_id: Mapped[str] = mapped_column(String(36), unique=True)
    programme_id: Mapped[str] = mapped_column(ForeignKey("programmes.programme_id"), index=True)
    basis: Mapped[str] = mapped_column(String(16))
    reason_code: Mapped[str | None] = mapped_column(String(32), nullable=True)
    # The jobcenter's words, until the erasure; the keyed fingerprint of the order stays, so the same
    # order again is recognised afterwards.
    reason: Mapped[str | None] = mapped_column(Text, nullable=True)
    order_fingerprint: Mapped[str | None] = mapped_column(String(64), nullable=True)
    ordered_by: Mapped[str | None] = mapped_column(String(200), nullable=True)
    ordered_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    erased_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True, index=True)
