"""Keeping settlement's copies from the events, each followed by a recompute of what it can affect.
Every copy is set-only or keyed by an immutable id, so any order of deliveries ends the same."""

from __future__ import annotations

from libs.common.clock import utcnow
from libs.common.contracts import (
    CutoffAdvancedV1,
    ParticipantEnrolledV1,
    ParticipantReferredV1,
    ParticipantWithdrawnV1,
    StatusRecordedV1,
)
from libs.common.uow import UnitOfWork
from services.settlement.models import CutoffRow, ParticipantRow, StatusRecordRow
from services.settlement.repository import FactsRepository
from services.settlement.services.months import recompute_participant, recompute_programme

ParticipantEvent = ParticipantReferredV1 | ParticipantEnrolledV1 | ParticipantWithdrawnV1


async def apply_participant(uow: UnitOfWork, event: ParticipantEvent) -> None:
    facts = FactsRepository(uow.session)
    row = await facts.participant(event.participant_id)
    if row is None:
        row = ParticipantRow(
            participant_id=event.participant_id,
            programme_id=event.programme_id,
            track=event.track,
            referred_on=event.referred_on,
            updated_at=utcnow(),
        )
        facts.add(row)
    row.programme_id, row.track, row.referred_on = event.programme_id, event.track, event.referred_on
    if isinstance(event, ParticipantEnrolledV1 | ParticipantWithdrawnV1) and event.enrolled_on is not None:
        row.enrolled_on = event.enrolled_on
    if isinstance(event, ParticipantWithdrawnV1):
        row.withdrawn_on = event.effective_on
    row.updated_at = utcnow()
    await uow.session.flush()
    await recompute_participant(uow, event.participant_id)


async def apply_status_recorded(uow: UnitOfWork, event: StatusRecordedV1) -> None:
    facts = FactsRepository(uow.session)
    if await facts.record(event.record_id) is None:
        facts.add(
            StatusRecordRow(
                record_id=event.record_id,
                participant_id=event.participant_id,
                programme_id=event.programme_id,
                code=event.code.value,
                valid_from=event.valid_from,
                valid_to=event.valid_to,
                recording_seq=event.recording_seq,
                recorded_at=event.recorded_at,
            )
        )
        await uow.session.flush()
    # Without an enrolment yet there is nothing to compute: the enrolment recomputes from every record.
    await recompute_participant(uow, event.participant_id, touched=(event.valid_from, event.valid_to))


async def apply_cutoff(uow: UnitOfWork, event: CutoffAdvancedV1) -> None:
    facts = FactsRepository(uow.session)
    if not await facts.has_cutoff(event.programme_id, event.complete_through):
        facts.add(
            CutoffRow(
                programme_id=event.programme_id,
                complete_through=event.complete_through,
                recorded_at=event.recorded_at,
            )
        )
        await uow.session.flush()
    await recompute_programme(uow, event.programme_id)
