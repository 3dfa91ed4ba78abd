"""Inbound events -> use cases: four durable consumers (``CONSUMERS``), each taking its event types in
stream order."""

from __future__ import annotations

from libs.common.contracts import (
    PARTICIPANT_EVENT_TYPES,
    CutoffAdvancedV1,
    CutoffRetractedV1,
    InvoiceIssuedV1,
    MeasurementRecordedV1,
    ParticipantErasedV1,
    ParticipantEvent,
    PaymentRecordedV1,
    ProgrammePartiesPublishedV1,
    ProgrammeTermsPublishedV1,
    StatementIssuedV1,
    StatementIssuedV2,
    StatementLinesV1,
    StatusRecordedV1,
)
from libs.common.events import CloudEvent, EventPayload
from libs.common.nats import ConsumerSpec
from libs.common.uow import UnitOfWork
from services.settlement.services import erasure, facts, programmes, progress, statements
from services.settlement.services.facts import FactsBatch
from services.settlement.services.invoices.restore import restore_invoice, restore_payment

_FACTS_BATCH = "settlement.facts_batch"


def facts_batch(uow: UnitOfWork) -> FactsBatch:
    """The facts consumer's batch state, one per transaction: the consumer hands its handlers only the
    unit of work, so the batch rides on it under one key, and the use cases take it as an argument."""
    batch = uow.scratch.get(_FACTS_BATCH)
    if batch is None:
        batch = uow.scratch[_FACTS_BATCH] = FactsBatch()
    assert isinstance(batch, FactsBatch)
    return batch


async def on_programme_event(uow: UnitOfWork, event: CloudEvent, payload: EventPayload) -> None:
    if isinstance(payload, ProgrammeTermsPublishedV1):
        await programmes.store_terms(uow, payload)
    elif isinstance(payload, ProgrammePartiesPublishedV1):
        await programmes.store_parties(uow, payload)


async def on_fact(uow: UnitOfWork, event: CloudEvent, payload: EventPayload) -> None:
    if isinstance(payload, ParticipantEvent):  # v1 or v2: the same facts
        await facts.apply_participant(uow, facts_batch(uow), payload)
    elif isinstance(payload, StatusRecordedV1):
        facts.apply_status_recorded(facts_batch(uow), payload)
    elif isinstance(payload, CutoffAdvancedV1 | CutoffRetractedV1):
        await facts.apply_cutoff(uow, facts_batch(uow), payload)
    elif isinstance(payload, ParticipantErasedV1):
        await erasure.erase_participant(uow, facts_batch(uow), payload.participant_id, event.time)


async def after_facts(uow: UnitOfWork) -> None:
    """After a batch of facts: recompute, once each, what they touched."""
    await facts.recompute_touched(uow, facts_batch(uow))


async def on_statement_issued(uow: UnitOfWork, event: CloudEvent, payload: EventPayload) -> None:
    """Settlement's own statements, invoices and payments: already stored when live; restored from the
    stream in a rebuild (an invoice after its statement's issued.v2, a payment after its invoice)."""
    if isinstance(payload, InvoiceIssuedV1):
        await restore_invoice(uow, payload)
    elif isinstance(payload, PaymentRecordedV1):
        await restore_payment(uow, payload)
    elif isinstance(payload, StatementIssuedV1):
        await statements.restore_statement(uow, payload)
    elif isinstance(payload, StatementLinesV1):
        await statements.restore_lines(uow, payload)
    elif isinstance(payload, StatementIssuedV2):
        await statements.restore_statement_v2(uow, payload)


async def on_measurement(uow: UnitOfWork, event: CloudEvent, payload: EventPayload) -> None:
    """A copy of the provider's measurement, for the progression summary (idempotent by id)."""
    if isinstance(payload, MeasurementRecordedV1):
        await progress.store_measurement(uow, payload)


CONSUMERS = [
    ConsumerSpec(
        name="settlement-programmes",
        event_types=[ProgrammeTermsPublishedV1.event_type, ProgrammePartiesPublishedV1.event_type],
        handler=on_programme_event,
    ),
    ConsumerSpec(
        name="settlement-facts",
        event_types=[
            *PARTICIPANT_EVENT_TYPES,
            StatusRecordedV1.event_type,
            CutoffAdvancedV1.event_type,
            CutoffRetractedV1.event_type,
            # With the facts: in stream order after the participant's events it erases the rows of.
            ParticipantErasedV1.event_type,
        ],
        handler=on_fact,
        after_batch=after_facts,
    ),
    ConsumerSpec(
        name="settlement-statements",
        event_types=[
            StatementIssuedV1.event_type,
            StatementLinesV1.event_type,
            StatementIssuedV2.event_type,
            InvoiceIssuedV1.event_type,
            PaymentRecordedV1.event_type,
        ],
        handler=on_statement_issued,
    ),
    ConsumerSpec(
        name="settlement-measurements",
        event_types=[MeasurementRecordedV1.event_type],
        handler=on_measurement,
    ),
]
