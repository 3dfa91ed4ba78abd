"""Inbound events -> use cases."""

from __future__ import annotations

from libs.common.contracts import (
    ParticipantEnrolledV1,
    ParticipantReferredV1,
    ParticipantWithdrawnV1,
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
    if isinstance(payload, ParticipantReferredV1 | ParticipantEnrolledV1 | ParticipantWithdrawnV1):
        await participants.apply_participant_event(uow, payload)


CONSUMERS = [
    ConsumerSpec(
        name="progression-programmes",
        event_types=[ProgrammeTermsPublishedV1.event_type],
        handler=on_programme_event,
    ),
    ConsumerSpec(
        name="progression-participants",
        event_types=[
            ParticipantReferredV1.event_type,
            ParticipantEnrolledV1.event_type,
            ParticipantWithdrawnV1.event_type,
        ],
        handler=on_participant_event,
    ),
]
