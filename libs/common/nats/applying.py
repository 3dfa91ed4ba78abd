"""Applying events through the inbox, exactly once in effect, each in a consumer span of its own.

``EventApplier`` holds what applying needs (the consumer's spec, the database, the service's tracing); the durable
pull consumer (``consumer.py``) is one that fetches, acks and dead-letters too, and the re-drive of dead
letters and the rebuild replay through one.
"""

from __future__ import annotations

import contextlib
from collections.abc import Awaitable, Callable, Mapping, Sequence
from contextlib import AbstractContextManager
from contextvars import ContextVar
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

import structlog
from nats.aio.msg import Msg
from pydantic import ValidationError
from sqlalchemy.exc import IntegrityError

from libs.common.db import Database
from libs.common.events import (
    CloudEvent,
    EventPayload,
    UnknownEventType,
    origin_problem,
    parse_payload,
    subject_for,
)
from libs.common.tracing import (
    TRACEPARENT,
    TRACESTATE,
    Span,
    SpanKind,
    Tracing,
    context_of,
    fallback_tracing,
    started_span,
)
from libs.common.uow import UnitOfWork

# The id of the event whose consumer span is current: applying it deeper in opens no second span.
_APPLYING: ContextVar[str | None] = ContextVar("sib_applying_event", default=None)


def describe_error(exc: BaseException) -> str:
    text = str(exc).splitlines()[0] if str(exc) else ""
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


Handler = Callable[[UnitOfWork, CloudEvent, EventPayload], Awaitable[None]]


@dataclass(frozen=True)
class ConsumerSpec:
    """A durable consumer: its name, the event types it takes, and the handler applying them.

    With ``after_batch``, a fetched batch is applied in one transaction: ``handler`` runs per event and
    ``after_batch`` once at the end (say, recomputing each touched participant once instead of once per
    event). A batch that fails is retried one event at a time, so one bad event does not hold up the
    others; a single event also gets its ``after_batch``."""

    name: str
    event_types: Sequence[str]
    handler: Handler
    after_batch: Callable[[UnitOfWork], Awaitable[None]] | None = None


class Outcome(StrEnum):
    applied = "applied"
    duplicate = "duplicate"


class PermanentFailure(Exception):
    """A message that can never be handled (not a CloudEvent, unknown type, invalid payload)."""


class EventApplier:
    """Applies a consumer's events: through the inbox, in one transaction, each in its consumer span."""

    def __init__(self, spec: ConsumerSpec, database: Database, tracing: Tracing | None = None) -> None:
        self.spec = spec
        self.database = database
        self.tracing = tracing or fallback_tracing()
        self.settings = database.settings
        self.durable = spec.name

    def event_span(
        self, event: CloudEvent, headers: Mapping[str, str] | None = None
    ) -> AbstractContextManager[object]:
        """The event's consumer span, current while it is applied: a child of the trace the message's
        ``traceparent`` header names, else the envelope's (else of the current span)."""
        if _APPLYING.get() == event.id:
            return contextlib.nullcontext()  # applying the event whose span is current already
        if headers and TRACEPARENT in headers:
            parent = context_of(headers[TRACEPARENT], headers.get(TRACESTATE))
        else:
            parent = context_of(event.traceparent, event.tracestate)
        started = started_span(self.tracing, f"process {event.type}", SpanKind.CONSUMER, parent)
        return _Applying(started, event, self)

    async def apply_events(
        self,
        uow: UnitOfWork,
        events: Sequence[tuple[CloudEvent, EventPayload]],
        headers: Sequence[Mapping[str, str] | None] | None = None,
    ) -> list[Outcome]:
        """Apply events in one transaction (the caller commits): each unless the inbox has it, in its
        own consumer span (``headers``: the messages' NATS headers, whose trace context comes first),
        then ``after_batch`` once. Used for fetched batches and for replays (rebuild, re-drive)."""
        outcomes: list[Outcome] = []
        # One inbox query for the batch and one insert at the end; an event twice in the batch is
        # applied once.
        seen = await uow.handled_among(self.durable, [event.id for event, _ in events])
        applied: list[CloudEvent] = []
        for index, (event, payload) in enumerate(events):
            if event.id in seen:
                outcomes.append(Outcome.duplicate)
                continue
            with self.event_span(event, headers[index] if headers else None):
                await self.spec.handler(uow, event, payload)
            seen.add(event.id)
            applied.append(event)
            outcomes.append(Outcome.applied)
        await uow.mark_handled_many(self.durable, applied)
        if self.spec.after_batch is not None:
            await self.spec.after_batch(uow)
        return outcomes

    def parse(self, msg: Msg) -> CloudEvent:
        """The CloudEvent, if it may be on the subject it arrived on: only its owner can publish there
        (NATS permissions), so its type and source must name that owner too."""
        try:
            event = CloudEvent.from_json_bytes(msg.data)
        except ValidationError as exc:
            raise PermanentFailure(f"not a CloudEvent: {exc.error_count()} error(s)") from exc
        problem = origin_problem(msg.subject, event, self.settings.subject_prefix)
        if problem is not None:
            raise PermanentFailure(problem)
        return event

    async def process(self, event: CloudEvent) -> Outcome:
        """Apply the event exactly once in effect: the inbox row and the effect commit together."""
        try:
            payload = parse_payload(event)
        except UnknownEventType as exc:
            raise PermanentFailure(f"unknown event type {event.type}") from exc
        except ValidationError as exc:
            raise PermanentFailure(
                f"payload does not match {event.type}: {exc.error_count()} error(s)"
            ) from exc
        try:
            async with UnitOfWork(self.database) as uow:
                (outcome,) = await self.apply_events(uow, [(event, payload)])
                await uow.commit()
        except IntegrityError:
            async with UnitOfWork(self.database) as check:
                if await check.already_handled(self.durable, event.id):
                    return Outcome.duplicate  # a concurrent delivery of the same event committed first
            raise
        return outcome


class _Applying:
    """``event_span``'s context manager (a class: it is entered once per event of a batch, and a
    generator-based one with structlog's ``bound_contextvars`` cost more)."""

    __slots__ = ("_applying", "_bound", "_started")

    def __init__(
        self, started: AbstractContextManager[Span], event: CloudEvent, applier: EventApplier
    ) -> None:
        self._started = started
        span = started.__enter__()
        if span.is_recording():
            span.set_attributes(
                {
                    "messaging.system": "nats",
                    "messaging.operation.type": "process",
                    "messaging.destination.name": subject_for(event.type, applier.settings.subject_prefix),
                    "messaging.consumer.group.name": applier.durable,
                    "messaging.message.id": event.id,
                }
            )
        self._applying = _APPLYING.set(event.id)
        self._bound = structlog.contextvars.bind_contextvars(event_id=event.id, event_type=event.type)

    def __enter__(self) -> object:
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None, tb: Any) -> None:
        structlog.contextvars.reset_contextvars(**self._bound)
        _APPLYING.reset(self._applying)
        self._started.__exit__(kind, exc, tb)
