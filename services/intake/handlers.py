"""Inbound events -> use cases. Intake owns the start of every flow; from settlement it learns only how
far statements have invoiced each programme, so a new terms version cannot reprice those months."""

from __future__ import annotations

from libs.common.contracts import StatementIssuedV1, StatementIssuedV2
from libs.common.events import CloudEvent, EventPayload
from libs.common.nats import ConsumerSpec
from libs.common.uow import UnitOfWork
from services.intake.services import programmes


async def on_statement_issued(uow: UnitOfWork, event: CloudEvent, payload: EventPayload) -> None:
    if isinstance(payload, StatementIssuedV1 | StatementIssuedV2):
        await programmes.note_invoiced(uow, payload.programme_id, payload.covers_through)


CONSUMERS: list[ConsumerSpec] = [
    ConsumerSpec(
        name="intake-statements",
        event_types=[StatementIssuedV1.event_type, StatementIssuedV2.event_type],
        handler=on_statement_issued,
    ),
]
