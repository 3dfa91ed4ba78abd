"""Reading a participant's raw status records and its resolved timeline."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from libs.common.clock import as_utc
from libs.common.contracts import (
    STATUS_CODES,
    StatusCategory,
    StatusCode,
)
from libs.common.db import Database
from libs.common.uow import UnitOfWork
from libs.rules.timeline import Period
from services.progression.domain import (
    Cutoff,
    StatusRecord,
    cutoff_as_of,
    known_as_of,
    resolve,
)
from services.progression.models import ParticipantRow
from services.progression.repository import (
    ProgrammeRepository,
    StatusRecordRepository,
)
from services.progression.services.context import Caller
from services.progression.services.participants import (
    OfParticipant,
    participant_for_reading,
)
from services.progression.services.status.records import (
    StoredRecord,
    stored_of,
)


async def list_records(
    database: Database, caller: Caller, participant_id: str
) -> OfParticipant[StoredRecord]:
    async with UnitOfWork(database) as uow:
        participant = await participant_for_reading(uow, caller, participant_id)
        return OfParticipant(
            participant.programme_id,
            [
                stored_of(row)
                for row in await StatusRecordRepository(uow.session).for_participant(participant_id)
            ],
        )


@dataclass(frozen=True)
class Timeline:
    programme_id: str
    cutoff: date | None
    periods: list[Period]


async def timeline(
    database: Database, caller: Caller, participant_id: str, as_of: datetime | None
) -> Timeline:
    async with UnitOfWork(database) as uow:
        participant = await participant_for_reading(uow, caller, participant_id)
        return await resolved_timeline(uow, participant, as_of)


async def resolved_timeline(uow: UnitOfWork, participant: ParticipantRow, as_of: datetime | None) -> Timeline:
    """The participant's timeline as known at ``as_of`` (now: None), read in the caller's unit of work."""
    rows = await StatusRecordRepository(uow.session).for_participant(participant.participant_id)
    programme_repo = ProgrammeRepository(uow.session)
    programme = await programme_repo.get(participant.programme_id)
    history = [
        Cutoff(c.complete_through, as_utc(c.recorded_at))
        for c in await programme_repo.cutoffs(participant.programme_id)
    ]
    records = known_as_of(
        [
            StatusRecord(
                r.record_id,
                StatusCode(r.code),
                r.valid_from,
                r.valid_to,
                r.recording_seq,
                as_utc(r.recorded_at),
            )
            for r in rows
        ],
        as_of,
    )
    mapping = (
        programme.status_categories
        if programme
        else {c.value: cat.value for c, (_, cat) in STATUS_CODES.items()}
    )
    categories = {StatusCode(code): StatusCategory(category) for code, category in mapping.items()}
    cutoff = cutoff_as_of(history, as_of)
    start = min([participant.referred_on, *(r.valid_from for r in records)])
    return Timeline(participant.programme_id, cutoff, resolve(records, categories, cutoff, start))
