"""Durable pull consumers: each applies the events of its types through the inbox, exactly once in effect.

A consumer handles each message in one unit of work: it checks the inbox, applies the handler, records
the event id in the inbox and commits, then acks (the applying, and each event's consumer span, are
``applying.py``'s). A crash between commit and ack means a redelivery that the inbox turns into a
no-op; a failed handler is retried with a delay up to ``max_deliver`` times. A message that fails its
last delivery, or can never be handled (not a CloudEvent, unknown type, invalid payload), is copied to
the dead-letter stream with the error and then terminated; see libs/common/deadletters.py for listing
and re-driving them.
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

import nats
from nats.aio.msg import Msg
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy
from pydantic import ValidationError
from sqlalchemy.exc import InterfaceError, OperationalError

from libs.common.clock import utcnow
from libs.common.db import Database
from libs.common.events import CloudEvent, UnknownEventType, parse_payload, subject_for
from libs.common.logging import get_logger
from libs.common.metrics import DEAD_LETTERS, EVENTS_CONSUMED
from libs.common.nats.applying import (
    ConsumerSpec,
    EventApplier,
    Handler,
    Outcome,
    PermanentFailure,
    describe_error,
)
from libs.common.nats.connection import NatsLink
from libs.common.nats.streams import (
    DL_CONSUMER,
    DL_DELIVERIES,
    DL_ERROR,
    DL_EVENT_TYPE,
    DL_FAILED_AT,
    DL_SERVICE,
    DL_STREAM_SEQ,
    DL_SUBJECT,
    MSG_ID_HEADER,
    dead_letter_stream,
    dead_letter_subject,
)
from libs.common.tracing import TRACEPARENT, TRACESTATE, Tracing
from libs.common.uow import UnitOfWork

log = get_logger(__name__)

# Re-exported: they were defined here before applying had a module of its own.
__all__ = ["ConsumerSpec", "EventConsumer", "Handler", "Outcome", "PermanentFailure", "describe_error"]


class EventConsumer(EventApplier):
    """A durable pull consumer of ``spec``'s event types on the stream."""

    def __init__(
        self, spec: ConsumerSpec, database: Database, link: NatsLink, tracing: Tracing | None = None
    ) -> None:
        super().__init__(spec, database, tracing)
        self.link = link
        self._subscription: Any = None
        self._stopping = asyncio.Event()

    def consumer_config(self) -> ConsumerConfig:
        return ConsumerConfig(
            durable_name=self.durable,
            deliver_policy=DeliverPolicy.ALL,
            ack_policy=AckPolicy.EXPLICIT,
            ack_wait=self.settings.consumer_ack_wait_seconds,
            max_deliver=self.settings.consumer_max_deliver,
            filter_subjects=[subject_for(t, self.settings.subject_prefix) for t in self.spec.event_types],
            max_ack_pending=10_000,
        )

    async def subscribe(self) -> None:
        js = await self.link.wait_ready()
        await js.add_consumer(self.settings.nats_stream, self.consumer_config())
        self._subscription = await js.pull_subscribe_bind(self.durable, stream=self.settings.nats_stream)

    @property
    def batch_size(self) -> int:
        """How many messages a fetch asks for: a consumer with a batch step applies them in one
        transaction; one without handles them one at a time, each within the ack wait."""
        if self.spec.after_batch is not None:
            return self.settings.consumer_batch_step_size
        return self.settings.consumer_batch_size

    async def fetch(self, batch: int | None = None, timeout: float = 1.0) -> list[Msg]:
        if self._subscription is None:
            await self.subscribe()
        try:
            msgs: list[Msg] = await self._subscription.fetch(batch or self.batch_size, timeout=timeout)
        except (TimeoutError, nats.errors.TimeoutError):
            return []
        return msgs

    async def run(self) -> None:
        log.info("consumer_started", consumer=self.durable, types=list(self.spec.event_types))
        prefetched: asyncio.Task[list[Msg]] | None = None
        try:
            while not self._stopping.is_set():
                try:
                    if prefetched is not None:
                        msgs = await prefetched
                        prefetched = None
                    else:
                        msgs = await self.fetch()
                    if self.spec.after_batch is not None and len(msgs) > 1:
                        if len(msgs) >= self.batch_size:
                            # A backlog: the next batch comes in while this one is applied.
                            prefetched = asyncio.create_task(self.fetch(), name=f"prefetch-{self.durable}")
                        await self.handle_batch(msgs)
                        continue
                    for msg in msgs:
                        await self.handle(msg)
                        if self._stopping.is_set():
                            break
                except asyncio.CancelledError:
                    raise
                except Exception as exc:  # NATS gone for a moment: wait for the reconnect
                    log.warning(
                        "consumer_fetch_failed", consumer=self.durable, error=str(exc) or type(exc).__name__
                    )
                    if prefetched is not None:
                        await self._give_back(prefetched)
                        prefetched = None
                    self._subscription = None
                    await asyncio.sleep(0.5)
        except BaseException:
            if prefetched is not None:  # cancelled: what it fetched is delivered again after the ack wait
                prefetched.cancel()
            raise
        if prefetched is not None:
            # A graceful stop: the batch fetched ahead is applied too (a batch takes a fraction of the
            # shutdown grace), so stopping costs no message a delivery.
            msgs = await self._prefetched(prefetched)
            if msgs:
                await self.handle_batch(msgs)
        log.info("consumer_stopped", consumer=self.durable)

    @staticmethod
    async def _prefetched(prefetched: asyncio.Task[list[Msg]]) -> list[Msg]:
        """What a prefetch brought; nothing if it failed or was cancelled (our own cancellation is
        passed on: the shield keeps it from cancelling the fetch instead)."""
        try:
            return await asyncio.shield(prefetched)
        except asyncio.CancelledError:
            if prefetched.cancelled():
                return []
            raise
        except Exception:
            return []

    async def _give_back(self, prefetched: asyncio.Task[list[Msg]]) -> None:
        """A prefetched batch that will not be applied now (NATS failed meanwhile): nak'd, so
        JetStream delivers it again at once rather than after the ack wait."""
        for msg in await self._prefetched(prefetched):
            with contextlib.suppress(Exception):
                await msg.nak()

    def stop(self) -> None:
        self._stopping.set()

    async def handle(self, msg: Msg) -> None:
        """Process then ack; on failure nak with a delay, or terminate once deliveries are used up."""
        try:
            event = self.parse(msg)
        except PermanentFailure as exc:
            await self._reject(msg, "unknown", exc)
            return
        with self.event_span(event, msg.headers):
            await self._handle(msg, event)

    async def _handle(self, msg: Msg, event: CloudEvent) -> None:
        delivered = msg.metadata.num_delivered
        event_type = event.type
        try:
            outcome = await self._process_through_outages(msg, event)
            if outcome is None:
                return  # stopping during an outage: unacked, so JetStream redelivers it later
            await msg.ack()
            EVENTS_CONSUMED.labels(self.settings.service_name, self.durable, event_type, outcome.value).inc()
            log.info("event_handled", consumer=self.durable, outcome=outcome.value, delivery=delivered)
        except PermanentFailure as exc:
            await self._reject(msg, event_type, exc)
        except Exception as exc:
            EVENTS_CONSUMED.labels(self.settings.service_name, self.durable, event_type, "failed").inc()
            final = delivered >= self.settings.consumer_max_deliver
            log.error(
                "event_failed",
                consumer=self.durable,
                event_type=event_type,
                delivery=delivered,
                final=final,
                error=str(exc) or type(exc).__name__,
                exc_info=exc,
            )
            if final:
                await self.dead_letter(msg, event_type, describe_error(exc))
                await msg.term()
            else:
                await msg.nak(delay=min(0.5 * 2 ** (delivered - 1), 30.0))

    async def _reject(self, msg: Msg, event_type: str, exc: PermanentFailure) -> None:
        """A message that can never be handled: to the dead letters, and terminated."""
        EVENTS_CONSUMED.labels(self.settings.service_name, self.durable, event_type, "rejected").inc()
        log.error(
            "event_rejected", consumer=self.durable, error=str(exc), stream_seq=msg.metadata.sequence.stream
        )
        await self.dead_letter(msg, event_type, f"rejected: {exc}")
        await msg.term()

    async def dead_letter(self, msg: Msg, event_type: str, error: str) -> None:
        """Copy the message to the dead-letter stream with why it failed, before it is terminated.
        The message id makes a repeated copy (a crash before the term) a JetStream duplicate."""
        meta = msg.metadata
        headers = {
            MSG_ID_HEADER: f"dead:{self.durable}:{meta.sequence.stream}",
            DL_CONSUMER: self.durable,
            DL_SERVICE: self.settings.service_name,
            DL_SUBJECT: msg.subject,
            DL_STREAM_SEQ: str(meta.sequence.stream),
            DL_DELIVERIES: str(meta.num_delivered),
            DL_EVENT_TYPE: event_type,
            DL_ERROR: error[:2000],
            DL_FAILED_AT: utcnow().isoformat(),
        }
        for name in (TRACEPARENT, TRACESTATE):  # the letter stays in the trace of what caused it
            if msg.headers and name in msg.headers:
                headers[name] = msg.headers[name]
        subject = dead_letter_subject(self.settings, self.durable)
        for attempt in range(5):
            try:
                await self.link.js.publish(
                    subject, msg.data, stream=dead_letter_stream(self.settings), headers=headers
                )
                DEAD_LETTERS.labels(self.settings.service_name, self.durable).inc()
                log.error("event_dead_lettered", consumer=self.durable, stream_seq=meta.sequence.stream)
                return
            except Exception as exc:
                log.warning("dead_letter_publish_failed", attempt=attempt + 1, error=type(exc).__name__)
                await asyncio.sleep(0.2 * 2**attempt)
        log.error("dead_letter_lost", consumer=self.durable, stream_seq=meta.sequence.stream)

    async def _process_through_outages(self, msg: Msg, event: CloudEvent) -> Outcome | None:
        """Retry in place while the database is unreachable, telling JetStream the message is still
        in progress: an outage must not use up the deliveries meant for handler errors."""
        delay = min(0.2, self.settings.consumer_outage_max_delay_seconds)
        while True:
            try:
                return await self.process(event)
            except (OperationalError, InterfaceError, ConnectionError, TimeoutError) as exc:
                if self._stopping.is_set():
                    return None
                log.warning("event_waiting_for_database", consumer=self.durable, error=type(exc).__name__)
                with contextlib.suppress(Exception):
                    await msg.in_progress()
                await asyncio.sleep(delay)
                delay = min(delay * 2, self.settings.consumer_outage_max_delay_seconds)

    async def handle_batch(self, msgs: list[Msg]) -> None:
        """Apply a fetched batch in one transaction and ack it; on any failure fall back to one at a time."""
        assert self.spec.after_batch is not None
        try:
            items = [(msg, self.parse(msg)) for msg in msgs]
            payloads = [(msg, event, parse_payload(event)) for msg, event in items]
            headers = [msg.headers for msg in msgs]
        except (PermanentFailure, UnknownEventType, ValidationError):
            for msg in msgs:
                await self.handle(msg)
            return
        outcomes: list[tuple[Msg, CloudEvent, Outcome]] = []
        try:
            async with UnitOfWork(self.database) as uow:
                applied = await self.apply_events(
                    uow, [(event, payload) for _, event, payload in payloads], headers
                )
                await uow.commit()
            outcomes = [
                (msg, event, outcome) for (msg, event, _), outcome in zip(payloads, applied, strict=True)
            ]
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            log.warning("event_batch_failed", consumer=self.durable, size=len(msgs), error=type(exc).__name__)
            for msg in msgs:
                await self.handle(msg)
            return
        for msg, event, outcome in outcomes:
            await msg.ack()
            EVENTS_CONSUMED.labels(self.settings.service_name, self.durable, event.type, outcome.value).inc()
            # The event's fields on the line itself, not a span made current per event: below INFO the
            # line costs only filter_by_level's check.
            log.info(
                "event_handled",
                consumer=self.durable,
                outcome=outcome.value,
                batch=len(msgs),
                trace_id=event.correlationid,
                event_id=event.id,
                event_type=event.type,
            )
