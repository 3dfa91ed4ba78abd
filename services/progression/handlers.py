"""Inbound events -> use cases."""

from __future__ import annotations

from libs.common.contracts import ProgrammeTermsPublishedV1
from libs.common.events import CloudEvent, EventPayload
from libs.common.nats import ConsumerSpec
from libs.common.uow import UnitOfWork
from services.progression import services


async def on_programme_event(uow: UnitOfWork, event: CloudEvent, payload: EventPayload) -> None:
    if isinstance(payload, ProgrammeTermsPublishedV1):
        await services.apply_terms(uow, payload)


CONSUMERS = [
    ConsumerSpec(
        name="progression-programmes",
        event_types=[ProgrammeTermsPublishedV1.event_type],
        handler=on_programme_event,
    )
]
