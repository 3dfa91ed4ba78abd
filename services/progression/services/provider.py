"""The provider's own records: progression measurements and milestones. The authority over benefit
status stays with the jobcenter; these never change a timeline."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date, datetime

from libs.common.auth import Role
from libs.common.clock import as_utc, utcnow
from libs.common.contracts import MeasurementRecordedV1, MilestoneKind, MilestoneRecordedV1
from libs.common.db import Database
from libs.common.errors import NotFound
from libs.common.events import new_event
from libs.common.uow import UnitOfWork
from services.progression.models import MeasurementRow, MilestoneRow, ParticipantRow
from services.progression.repository import ParticipantRepository, ProviderRecordsRepository
from services.progression.schemas import MeasurementIn, MilestoneIn
from services.progression.services.context import Caller
from services.progression.services.participants import OfParticipant, participant_for_reading


@dataclass(frozen=True, slots=True)
class Measurement:
    measurement_id: str
    measured_on: date
    scores: dict[str, int]
    recorded_at: datetime  # in UTC


@dataclass(frozen=True, slots=True)
class Milestone:
    milestone_id: str
    kind: MilestoneKind
    on: date
    note: str | None
    recorded_at: datetime  # in UTC


def _measurement(row: MeasurementRow) -> Measurement:
    return Measurement(row.measurement_id, row.measured_on, row.scores, as_utc(row.recorded_at))


def _milestone(row: MilestoneRow) -> Milestone:
    return Milestone(row.milestone_id, MilestoneKind(row.kind), row.on, row.note, as_utc(row.recorded_at))


async def _participant_for_provider(uow: UnitOfWork, caller: Caller, participant_id: str) -> ParticipantRow:
    """The participant, locked until the record is committed (PostgreSQL), so an erasure running at the
    same time deletes the record after it, or this finds no participant (404, as for an erased one)."""
    row = await ParticipantRepository(uow.session).get(participant_id, for_update=True)
    if row is None or not caller.principal.can_access(row.programme_id):
        raise NotFound("No such participant.")
    return row


async def record_measurement(
    database: Database, caller: Caller, participant_id: str, body: MeasurementIn
) -> Measurement:
    assert caller.principal.role is Role.provider
    async with UnitOfWork(database) as uow:
        participant = await _participant_for_provider(uow, caller, participant_id)
        now = utcnow()
        row = MeasurementRow(
            measurement_id=str(uuid.uuid4()),
            participant_id=participant_id,
            programme_id=participant.programme_id,
            measured_on=body.measured_on,
            scores=dict(body.scores),
            recorded_at=now,
            recorded_by=caller.principal.subject,
        )
        ProviderRecordsRepository(uow.session).add(row)
        uow.emit(
            new_event(
                MeasurementRecordedV1(
                    measurement_id=row.measurement_id,
                    participant_id=participant_id,
                    programme_id=participant.programme_id,
                    measured_on=body.measured_on,
                    scores=row.scores,
                    recorded_at=now,
                ),
                subject=f"participant/{participant_id}",
            )
        )
        await uow.commit()
    return _measurement(row)


async def measurements(database: Database, caller: Caller, participant_id: str) -> OfParticipant[Measurement]:
    async with UnitOfWork(database) as uow:
        participant = await participant_for_reading(uow, caller, participant_id)
        return OfParticipant(
            participant.programme_id,
            [
                _measurement(row)
                for row in await ProviderRecordsRepository(uow.session).measurements(participant_id)
            ],
        )


async def record_milestone(
    database: Database, caller: Caller, participant_id: str, body: MilestoneIn
) -> Milestone:
    async with UnitOfWork(database) as uow:
        participant = await _participant_for_provider(uow, caller, participant_id)
        now = utcnow()
        row = MilestoneRow(
            milestone_id=str(uuid.uuid4()),
            participant_id=participant_id,
            programme_id=participant.programme_id,
            kind=body.kind.value,
            on=body.on,
            note=body.note,
            recorded_at=now,
            recorded_by=caller.principal.subject,
        )
        ProviderRecordsRepository(uow.session).add(row)
        uow.emit(
            new_event(
                MilestoneRecordedV1(
                    milestone_id=row.milestone_id,
                    participant_id=participant_id,
                    programme_id=participant.programme_id,
                    kind=body.kind,
                    on=body.on,
                    recorded_at=now,
                ),
                subject=f"participant/{participant_id}",
            )
        )
        await uow.commit()
    return _milestone(row)


async def milestones(database: Database, caller: Caller, participant_id: str) -> OfParticipant[Milestone]:
    async with UnitOfWork(database) as uow:
        participant = await participant_for_reading(uow, caller, participant_id)
        return OfParticipant(
            participant.programme_id,
            [
                _milestone(row)
                for row in await ProviderRecordsRepository(uow.session).milestones(participant_id)
            ],
        )
