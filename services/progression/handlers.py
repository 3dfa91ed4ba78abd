"""Inbound events -> use cases."""

from __future__ import annotations

from libs.common.contracts import (
    PARTICIPANT_EVENT_TYPES,
    ParticipantErasedV1,
    ParticipantEvent,
    ProgrammeTermsPublishedV1,
)
from libs.common.events import CloudEvent, EventPayload
from libs.common.nats import ConsumerSpec
from libs.common.uow import UnitOfWork
from services.progression.services import erasure, participants, programmes


async def on_programme_event(uow: UnitOfWork, event: CloudEvent, payload: EventPayload) -> None:
    if isinstance(payload, ProgrammeTermsPublishedV1):
        await programmes.apply_terms(uow, payload)


async def on_participant_event(uow: UnitOfWork, event: CloudEvent, payload: EventPayload) -> None:
    if isinstance(payload, ParticipantEvent):  # v1 (with the pseudonym, no longer read) or v2
        await participants.apply_participant_event(uow, payload)
    elif isinstance(payload, ParticipantErasedV1):
        await erasure.erase_participant(uow, payload.participant_id, event.time)


CONSUMERS = [
    ConsumerSpec(
        name="progression-programmes",
        event_types=[ProgrammeTermsPublishedV1.event_type],
        handler=on_programme_event,
    ),
    ConsumerSpec(
        name="progression-participants",
        # The erasure in the same consumer: in stream order after the events it erases the rows of.
        event_types=[*PARTICIPANT_EVENT_TYPES, ParticipantErasedV1.event_type],
        handler=on_participant_event,
    ),
]
