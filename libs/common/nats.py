"""The connection to NATS JetStream, the ``sib.>`` stream, and durable pull consumers.

A consumer handles each message in one unit of work: it checks the inbox, applies the handler, records
the event id in the inbox and commits, then acks. A crash between commit and ack means a redelivery
that the inbox turns into a no-op; a failed handler is retried with a delay up to ``max_deliver``
times. A message that fails its last delivery, or can never be handled (not a CloudEvent, unknown
type, invalid payload), is copied to the dead-letter stream with the error and then terminated; see
libs/common/deadletters.py for listing and re-driving them.
"""

from __future__ import annotations

import asyncio
import contextlib
import ssl
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

import nats
from nats.aio.client import Client as NatsClient
from nats.aio.msg import Msg
from nats.js import JetStreamContext
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy, RetentionPolicy, StorageType, StreamConfig
from nats.js.errors import NotFoundError
from pydantic import ValidationError
from sqlalchemy.exc import IntegrityError, InterfaceError, OperationalError

from libs.common.clock import utcnow
from libs.common.db import Database
from libs.common.events import (
    CloudEvent,
    EventPayload,
    UnknownEventType,
    origin_problem,
    parse_payload,
    subject_for,
)
from libs.common.logging import correlation_scope, get_logger
from libs.common.metrics import DEAD_LETTERS, EVENTS_CONSUMED
from libs.common.settings import CommonSettings
from libs.common.uow import UnitOfWork

log = get_logger(__name__)

MSG_ID_HEADER = "Nats-Msg-Id"
# Headers of a dead letter: the message body is the original event, unchanged.
DL_CONSUMER = "Sib-Dead-Consumer"
DL_SERVICE = "Sib-Dead-Service"
DL_SUBJECT = "Sib-Dead-Subject"
DL_STREAM_SEQ = "Sib-Dead-Stream-Seq"
DL_DELIVERIES = "Sib-Dead-Deliveries"
DL_EVENT_TYPE = "Sib-Dead-Event-Type"
DL_ERROR = "Sib-Dead-Error"
DL_FAILED_AT = "Sib-Dead-Failed-At"


def connect_options(settings: CommonSettings) -> dict[str, Any]:
    """How to authenticate to NATS, as ``nats.connect`` keywords: a creds file, an nkey seed, or a
    user and password (the user defaults to the service's name), and TLS when asked for. Never part of
    the URL, which is logged."""
    options: dict[str, Any] = {"inbox_prefix": settings.resolved_nats_inbox_prefix}
    if settings.nats_creds_file is not None:
        options["user_credentials"] = str(settings.nats_creds_file)
    elif settings.nats_nkey_seed is not None:
        options["nkeys_seed_str"] = settings.nats_nkey_seed.get_secret_value()
    elif settings.nats_password is not None:
        options["user"] = settings.resolved_nats_user
        options["password"] = settings.nats_password.get_secret_value()
    if settings.nats_tls_required:
        context = ssl.create_default_context(
            cafile=str(settings.nats_tls_ca) if settings.nats_tls_ca is not None else None
        )
        if settings.nats_tls_cert is not None:
            context.load_cert_chain(
                str(settings.nats_tls_cert),
                str(settings.nats_tls_key) if settings.nats_tls_key is not None else None,
            )
        options["tls"] = context
    return options


def describe_error(exc: BaseException) -> str:
    text = str(exc).splitlines()[0] if str(exc) else ""
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


class NatsLink:
    """One NATS connection per service; connects in the background and keeps reconnecting, so a
    service starts (and takes writes into its outbox) while NATS is down."""

    def __init__(self, settings: CommonSettings) -> None:
        self.settings = settings
        self.client: NatsClient | None = None
        self._js: JetStreamContext | None = None
        self.ready = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    @classmethod
    def around(cls, js: JetStreamContext, settings: CommonSettings) -> NatsLink:
        """A link around a JetStream context connected elsewhere (operator commands, re-drive)."""
        link = cls(settings)
        link._js = js
        link.ready.set()
        return link

    @property
    def js(self) -> JetStreamContext:
        if self._js is None:
            raise RuntimeError("NATS is not connected yet")
        return self._js

    @property
    def is_connected(self) -> bool:
        return self.client is not None and self.client.is_connected and self.ready.is_set()

    def start(self) -> None:
        self._task = asyncio.create_task(self._connect_forever(), name="nats-connect")

    async def connect(self) -> None:
        """Connect once (raises if NATS does not answer) and make sure the stream exists."""
        client = await nats.connect(
            servers=[self.settings.nats_url],
            name=f"sib-{self.settings.service_name}",
            allow_reconnect=True,
            max_reconnect_attempts=-1,
            reconnect_time_wait=0.5,
            connect_timeout=2,
            error_cb=self._on_error,
            disconnected_cb=self._on_disconnected,
            reconnected_cb=self._on_reconnected,
            **connect_options(self.settings),
        )
        self.client = client
        self._js = client.jetstream(timeout=5)
        await ensure_stream(self._js, self.settings)
        self.ready.set()
        log.info("nats_connected", url=self.settings.nats_url, stream=self.settings.nats_stream)

    async def _connect_forever(self) -> None:
        delay = 0.2
        while True:
            try:
                await self.connect()
                return
            except Exception as exc:  # NATS down or not yet up: keep trying
                log.warning("nats_connect_failed", error=str(exc) or type(exc).__name__, retry_in=delay)
                if self.client is not None:
                    with contextlib.suppress(Exception):
                        await self.client.close()
                    self.client = None
                await asyncio.sleep(delay)
                delay = min(delay * 2, 5.0)

    async def wait_ready(self) -> JetStreamContext:
        await self.ready.wait()
        return self.js

    async def close(self) -> None:
        if self._task is not None and not self._task.done():
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        # The relay and consumers have stopped by now, so nothing is in flight: close rather than
        # drain, which waits out pull subscriptions' pending fetches.
        if self.client is not None and not self.client.is_closed:
            with contextlib.suppress(Exception):
                await self.client.close()
        self.ready.clear()

    async def _on_error(self, exc: Exception) -> None:
        log.warning("nats_error", error=str(exc) or type(exc).__name__)

    async def _on_disconnected(self) -> None:
        log.warning("nats_disconnected")

    async def _on_reconnected(self) -> None:
        log.info("nats_reconnected")


def dead_letter_stream(settings: CommonSettings) -> str:
    return f"{settings.nats_stream}_DLQ"


def dead_letter_subject(settings: CommonSettings, consumer: str) -> str:
    """``<prefix>-dlq.<service>.<consumer>``: outside ``<prefix>.>``, so integrators never see it."""
    return f"{settings.subject_prefix}-dlq.{settings.service_name}.{consumer}"


def stream_configs(settings: CommonSettings) -> list[StreamConfig]:
    """The event stream (every ``<prefix>.>`` subject, on disk, never expiring, deduplicating on
    Nats-Msg-Id; a rebuild replays it from the start) and the dead-letter stream beside it."""
    return [
        StreamConfig(
            name=settings.nats_stream,
            subjects=[f"{settings.subject_prefix}.>"],
            storage=StorageType.FILE,
            retention=RetentionPolicy.LIMITS,
            duplicate_window=settings.nats_duplicate_window_seconds,
        ),
        StreamConfig(
            name=dead_letter_stream(settings),
            subjects=[f"{settings.subject_prefix}-dlq.>"],
            storage=StorageType.FILE,
            retention=RetentionPolicy.LIMITS,
            duplicate_window=settings.nats_duplicate_window_seconds,
        ),
    ]


async def ensure_stream(js: JetStreamContext, settings: CommonSettings) -> None:
    for config in stream_configs(settings):
        assert config.name is not None
        try:
            await js.stream_info(config.name)
        except NotFoundError:
            with contextlib.suppress(Exception):  # another service may have created it just now
                await js.add_stream(config)
            await js.stream_info(config.name)


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


class EventConsumer:
    def __init__(self, spec: ConsumerSpec, database: Database, link: NatsLink) -> None:
        self.spec = spec
        self.database = database
        self.link = link
        self.settings = database.settings
        self.durable = spec.name
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
        delivered = msg.metadata.num_delivered
        event_type = "unknown"
        try:
            event = self._parse(msg)
            event_type = event.type
            with correlation_scope(event.correlationid, event_id=event.id, event_type=event.type):
                outcome = await self._process_through_outages(msg, event)
                if outcome is None:
                    return  # stopping during an outage: unacked, so JetStream redelivers it later
                await msg.ack()
                EVENTS_CONSUMED.labels(
                    self.settings.service_name, self.durable, event_type, outcome.value
                ).inc()
                log.info("event_handled", consumer=self.durable, outcome=outcome.value, delivery=delivered)
        except PermanentFailure as exc:
            EVENTS_CONSUMED.labels(self.settings.service_name, self.durable, event_type, "rejected").inc()
            log.error(
                "event_rejected",
                consumer=self.durable,
                error=str(exc),
                stream_seq=msg.metadata.sequence.stream,
            )
            await self.dead_letter(msg, event_type, f"rejected: {exc}")
            await msg.term()
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
            items = [(msg, self._parse(msg)) for msg in msgs]
            payloads = [(msg, event, parse_payload(event)) for msg, event in items]
        except (PermanentFailure, UnknownEventType, ValidationError):
            for msg in msgs:
                await self.handle(msg)
            return
        outcomes: list[tuple[Msg, CloudEvent, Outcome]] = []
        try:
            async with UnitOfWork(self.database) as uow:
                applied = await self.apply_events(uow, [(event, payload) for _, event, payload in payloads])
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
            # The event's fields on the line itself, not a bound scope per event: below INFO the line
            # costs only filter_by_level's check.
            log.info(
                "event_handled",
                consumer=self.durable,
                outcome=outcome.value,
                batch=len(msgs),
                correlation_id=event.correlationid,
                event_id=event.id,
                event_type=event.type,
            )

    async def apply_events(
        self, uow: UnitOfWork, events: Sequence[tuple[CloudEvent, EventPayload]]
    ) -> list[Outcome]:
        """Apply events in one transaction (the caller commits): each unless the inbox has it, then
        ``after_batch`` once. Used for fetched batches and for replays (rebuild, re-drive)."""
        outcomes: list[Outcome] = []
        # One inbox query for the batch and one insert at the end; an event twice in the batch is
        # applied once.
        seen = await uow.handled_among(self.durable, [event.id for event, _ in events])
        applied: list[CloudEvent] = []
        for event, payload in events:
            if event.id in seen:
                outcomes.append(Outcome.duplicate)
                continue
            with correlation_scope(event.correlationid, event_id=event.id, event_type=event.type):
                await self.spec.handler(uow, event, payload)
            seen.add(event.id)
            applied.append(event)
            outcomes.append(Outcome.applied)
        await uow.mark_handled_many(self.durable, applied)
        if self.spec.after_batch is not None:
            await self.spec.after_batch(uow)
        return outcomes

    def _parse(self, msg: Msg) -> CloudEvent:
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
