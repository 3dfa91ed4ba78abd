"""Copies of other services' facts: participants, status records, cut-offs, recording sequences and gaps, measurements."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import (
    JSON,
    Date,
    DateTime,
    Index,
    Integer,
    String,
)
from sqlalchemy.orm import Mapped, mapped_column

from services.settlement.models.base import Base


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


class MeasurementCopyRow(Base):
    """Settlement's copy of the provider's progression measurements, from measurement.recorded."""

    __tablename__ = "measurements"

    measurement_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    participant_id: Mapped[str] = mapped_column(String(36))
    programme_id: Mapped[str] = mapped_column(String(64), index=True)
    measured_on: Mapped[date] = mapped_column(Date)
    scores: Mapped[dict[str, int]] = mapped_column(JSON)
    recorded_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class ErasedParticipantRow(Base):
    """A participant whose personal data was erased (intake's participant.erased.v1): its person-level
    rows are gone, its issued statement lines stay as accounting records, and this id is refused from now
    on (a late event stores nothing; the ledger makes no correction of its months). ``erased_at`` is the
    event's time, so a rebuild from the stream writes the same row."""

    __tablename__ = "erased_participants"

    participant_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    erased_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
