"""Progression's tables."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import JSON, Date, DateTime, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from libs.common.db import make_metadata
from libs.common.readaudit import read_audit_tables


class Base(DeclarativeBase):
    metadata = make_metadata()


# The read audit (libs/common/readaudit): a chained row per read of person-level data.
READ_AUDIT = read_audit_tables(Base.metadata)


class ProgrammeRow(Base):
    """Progression's copy of what it needs of a programme, kept from programme.terms_published."""

    __tablename__ = "programmes"

    programme_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    terms_version: Mapped[int] = mapped_column(Integer)
    status_categories: Mapped[dict[str, Any]] = mapped_column(JSON)
    data_complete_through: Mapped[date | None] = mapped_column(Date, nullable=True)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class ParticipantRow(Base):
    """Progression's copy of a participant, from intake's events (or read from intake when a status
    arrives before the event). ``last_recording_seq`` numbers this participant's records."""

    __tablename__ = "participants"

    participant_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    programme_id: Mapped[str] = mapped_column(String(64), index=True)
    track: Mapped[str] = mapped_column(String(64))
    referred_on: Mapped[date] = mapped_column(Date)
    enrolled_on: Mapped[date | None] = mapped_column(Date, nullable=True)
    withdrawn_on: Mapped[date | None] = mapped_column(Date, nullable=True)
    last_recording_seq: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class StatusRecordRow(Base):
    """One status record as the jobcenter reported it; never updated. A correction is a new record."""

    __tablename__ = "status_records"
    __table_args__ = (
        UniqueConstraint("participant_id", "recording_seq"),
        UniqueConstraint("programme_id", "source_record_id"),
    )

    record_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    participant_id: Mapped[str] = mapped_column(String(36))  # led by the unique (participant, seq)
    programme_id: Mapped[str] = mapped_column(String(64))
    code: Mapped[str] = mapped_column(String(32))
    valid_from: Mapped[date] = mapped_column(Date)
    valid_to: Mapped[date | None] = mapped_column(Date, nullable=True)
    recording_seq: Mapped[int] = mapped_column(Integer)
    recorded_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    source_record_id: Mapped[str | None] = mapped_column(String(100), nullable=True)
    # The poster's token subject: its feed in the data-quality monitor; null for records from before
    # it was kept (migration progression_0007). Not in status.recorded: no reader of the stream needs it.
    recorded_by: Mapped[str | None] = mapped_column(String(200), nullable=True)


class CutoffRow(Base):
    """Every move of a programme's data cut-off in recording order (``seq``): an advance, or a retraction
    of a mistaken move with its reason. The timeline reads the cut-off as it was known at a moment."""

    __tablename__ = "cutoff_facts"

    programme_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    seq: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    complete_through: Mapped[date] = mapped_column(Date)
    kind: Mapped[str] = mapped_column(String(16))
    reason: Mapped[str | None] = mapped_column(String(500), nullable=True)
    recorded_by: Mapped[str | None] = mapped_column(String(200), nullable=True)
    recorded_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class BatchRequestRow(Base):
    """An Idempotency-Key of a batch: the same key and body again returns the records it created."""

    __tablename__ = "batch_requests"

    actor: Mapped[str] = mapped_column(String(200), primary_key=True)
    key: Mapped[str] = mapped_column(String(200), primary_key=True)
    request_fingerprint: Mapped[str] = mapped_column(String(64))
    record_ids: Mapped[list[str]] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class MeasurementRow(Base):
    __tablename__ = "measurements"

    measurement_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    participant_id: Mapped[str] = mapped_column(String(36), index=True)
    programme_id: Mapped[str] = mapped_column(String(64))
    measured_on: Mapped[date] = mapped_column(Date)
    scores: Mapped[dict[str, int]] = mapped_column(JSON)
    recorded_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    recorded_by: Mapped[str] = mapped_column(String(200))


class MilestoneRow(Base):
    __tablename__ = "milestones"

    milestone_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    participant_id: Mapped[str] = mapped_column(String(36), index=True)
    programme_id: Mapped[str] = mapped_column(String(64))
    kind: Mapped[str] = mapped_column(String(32))
    on: Mapped[date] = mapped_column(Date)
    note: Mapped[str | None] = mapped_column(Text, nullable=True)
    recorded_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    recorded_by: Mapped[str] = mapped_column(String(200))


class ErasedParticipantRow(Base):
    """A participant whose personal data was erased (intake's participant.erased.v1): every row of it is
    gone, and this id is refused from now on, so a late or replayed event or post cannot bring it back.
    ``erased_at`` is the event's time, so a rebuild from the stream writes the same row."""

    __tablename__ = "erased_participants"

    participant_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    erased_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
