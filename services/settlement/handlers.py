"""Inbound events -> use cases."""

from __future__ import annotations

from libs.common.contracts import ProgrammeTermsPublishedV1
from libs.common.events import CloudEvent, EventPayload
from libs.common.nats import ConsumerSpec
from libs.common.uow import UnitOfWork
from services.settlement import services


async def on_programme_event(uow: UnitOfWork, event: CloudEvent, payload: EventPayload) -> None:
    if isinstance(payload, ProgrammeTermsPublishedV1):
        await services.store_terms(uow, payload)


CONSUMERS = [
    ConsumerSpec(
        name="settlement-programmes",
        event_types=[ProgrammeTermsPublishedV1.event_type],
        handler=on_programme_event,
    )
]
