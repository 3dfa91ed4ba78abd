"""Inbound events -> use cases."""

from __future__ import annotations

from libs.common.contracts import (
    PARTICIPANT_EVENT_TYPES,
    ParticipantEvent,
    ProgrammeTermsPublishedV1,
)
from libs.common.events import CloudEvent, EventPayload
from libs.common.nats import ConsumerSpec
from libs.common.uow import UnitOfWork
from services.progression.services import participants, programmes


async def on_programme_event(uow: UnitOfWork, event: CloudEvent, payload: EventPayload) -> None:
    if isinstance(payload, ProgrammeTermsPublishedV1):
        await programmes.apply_terms(uow, payload)


async def on_participant_event(uow: UnitOfWork, event: CloudEvent, payload: EventPayload) -> None:
    if isinstance(payload, ParticipantEvent):  # v1 (with the pseudonym, no longer read) or v2
        await participants.apply_participant_event(uow, payload)


CONSUMERS = [
    ConsumerSpec(
        name="progression-programmes",
        event_types=[ProgrammeTermsPublishedV1.event_type],
        handler=on_programme_event,
    ),
    ConsumerSpec(
        name="progression-participants",
        event_types=list(PARTICIPANT_EVENT_TYPES),
        handler=on_participant_event,
    ),
]
