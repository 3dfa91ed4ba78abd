"""Progression's part of a citizen's right-of-access export (GDPR art. 15): everything it holds about
one participant, read for intake's own identity, which gathers the three services' parts."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from libs.common.auth import Role
from libs.common.clock import as_utc
from libs.common.db import Database
from libs.common.errors import Forbidden, NotFound
from libs.common.logging import get_logger
from libs.common.uow import UnitOfWork
from services.progression.repository import (
    ParticipantRepository,
    ProviderRecordsRepository,
    StatusRecordRepository,
)
from services.progression.services.context import Caller
from services.progression.services.status import Timeline, resolved_timeline

log = get_logger(__name__)


@dataclass(frozen=True, slots=True)
class ParticipantCopy:
    """Progression's copy of the participant (from intake's events)."""

    participant_id: str
    programme_id: str
    track: str
    referred_on: date
    enrolled_on: date | None
    withdrawn_on: date | None
    updated_at: datetime  # in UTC


@dataclass(frozen=True, slots=True)
class RecordEntry:
    """One status record as stored, with who recorded it and when."""

    record_id: str
    code: str
    valid_from: date
    valid_to: date | None
    recording_seq: int
    recorded_at: datetime  # in UTC
    recorded_by: str | None  # None: recorded before the poster was kept
    source_record_id: str | None


@dataclass(frozen=True, slots=True)
class MeasurementEntry:
    measurement_id: str
    measured_on: date
    scores: dict[str, int]
    recorded_at: datetime  # in UTC
    recorded_by: str


@dataclass(frozen=True, slots=True)
class MilestoneEntry:
    milestone_id: str
    kind: str
    on: date
    note: str | None
    recorded_at: datetime  # in UTC
    recorded_by: str


@dataclass(frozen=True)
class PersonalData:
    participant: ParticipantCopy
    status_records: list[RecordEntry]
    timeline: Timeline
    measurements: list[MeasurementEntry]
    milestones: list[MilestoneEntry]


async def personal_data(database: Database, caller: Caller, participant_id: str) -> PersonalData:
    """Everything progression holds about the participant, in one read transaction. Only intake's own
    identity asks (403 for every other role; the route refuses them too); 404 for a participant
    progression does not know."""
    if caller.principal.role is not Role.intake_service:
        raise Forbidden("Only intake's service identity gathers a citizen's personal data.")
    async with UnitOfWork(database, read_only=True) as uow:
        row = await ParticipantRepository(uow.session).get(participant_id)
        if row is None:
            raise NotFound("No such participant.")
        records = await StatusRecordRepository(uow.session).for_participant(participant_id)
        timeline = await resolved_timeline(uow, row, None)
        provider_records = ProviderRecordsRepository(uow.session)
        measurements = await provider_records.measurements(participant_id)
        milestones = await provider_records.milestones(participant_id)
        found = PersonalData(
            participant=ParticipantCopy(
                row.participant_id,
                row.programme_id,
                row.track,
                row.referred_on,
                row.enrolled_on,
                row.withdrawn_on,
                as_utc(row.updated_at),
            ),
            status_records=[
                RecordEntry(
                    r.record_id,
                    r.code,
                    r.valid_from,
                    r.valid_to,
                    r.recording_seq,
                    as_utc(r.recorded_at),
                    r.recorded_by,
                    r.source_record_id,
                )
                for r in records
            ],
            timeline=timeline,
            measurements=[
                MeasurementEntry(
                    m.measurement_id, m.measured_on, m.scores, as_utc(m.recorded_at), m.recorded_by
                )
                for m in measurements
            ],
            milestones=[
                MilestoneEntry(m.milestone_id, m.kind, m.on, m.note, as_utc(m.recorded_at), m.recorded_by)
                for m in milestones
            ],
        )
    log.info(
        "personal_data_gathered",
        participant_id=participant_id,
        status_records=len(found.status_records),
        measurements=len(found.measurements),
        milestones=len(found.milestones),
    )
    return found
