"""``erase-streams``: remove an erased participant's messages from the event stream and the dead letters.

Intake announces an erasure with ``participant.erased.v1`` (the participant id only). The eraser takes
those events from its durable consumer ``eraser``; for a batch of them it reads the stream ``SIB`` once
and the dead-letter stream once (an ephemeral consumer ``eraser-scan``, no acks, from the first
message) and deletes every message whose body or headers name one of the participants, in any
spelling of the UUID (JetStream overwrites a deleted message on disk). It keeps the accounting
records that name participants (``statement.lines.v1``, ``statement.issued.v1``: a statement must
still verify against its sha256) and the ``participant.erased.v1`` events themselves. Only then does
it ack the erasure events, so a run stopped half-way is done again in full by the next, which deletes
what is left and nothing else. Its NATS user ``eraser`` may do exactly this (deploy/nats_auth.py).

    python -m deploy.ops erase-streams --once          # the erasures pending now, then exit
    python -m deploy.ops erase-streams --every 60      # keep running, looking at least every 60 s
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import re
import time
import uuid
from collections import Counter
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import nats
from nats.aio.client import Client as NatsClient
from nats.aio.msg import Msg
from nats.js import JetStreamContext
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy
from nats.js.errors import NotFoundError

from deploy.local import development_nats_credentials
from deploy.nats_auth import ERASER, ERASER_SCAN
from libs.common.contracts import ParticipantErasedV1, StatementIssuedV1, StatementLinesV1
from libs.common.events import CloudEvent, origin_problem, subject_for
from libs.common.logging import get_logger
from libs.common.nats import DL_EVENT_TYPE, DL_SUBJECT, connect_options, dead_letter_stream
from libs.common.settings import CommonSettings

log = get_logger(__name__)

# Messages that name a participant and stay after the erasure: the accounting records (a statement's
# lines, and the v1 statement that carried them) and the announcement of the erasure itself. The other
# accounting events (statement.issued.v2, invoices, payments, disputes) name no participant.
KEPT_TYPES = (StatementLinesV1.event_type, StatementIssuedV1.event_type, ParticipantErasedV1.event_type)
# A UUID in any spelling: upper or lower case, with or without hyphens, not inside a longer hex run.
_UUID = re.compile(
    rb"(?<![0-9A-Fa-f])[0-9A-Fa-f]{8}-?[0-9A-Fa-f]{4}-?[0-9A-Fa-f]{4}-?[0-9A-Fa-f]{4}-?[0-9A-Fa-f]{12}"
    rb"(?![0-9A-Fa-f])"
)
_TYPE_NAME = re.compile(r"^[a-z0-9_.\-]{1,120}$")
ACK_WAIT_SECONDS = 300.0
FETCH_BATCH = 1000


@dataclass
class ErasureReport:
    """What a run did, with no personal data: counts, and event types of what it deleted."""

    participants: int = 0
    scanned: dict[str, int] = field(default_factory=dict)  # stream -> messages read
    deleted: dict[str, int] = field(default_factory=dict)  # stream -> messages deleted
    deleted_types: Counter[str] = field(default_factory=Counter)
    kept_types: Counter[str] = field(default_factory=Counter)  # naming a participant, kept by design
    refused: int = 0  # erasure events that named no valid participant (terminated, nothing deleted)

    def merge(self, other: ErasureReport) -> None:
        self.participants += other.participants
        self.refused += other.refused
        for name, count in other.scanned.items():
            self.scanned[name] = self.scanned.get(name, 0) + count
        for name, count in other.deleted.items():
            self.deleted[name] = self.deleted.get(name, 0) + count
        self.deleted_types.update(other.deleted_types)
        self.kept_types.update(other.kept_types)

    @property
    def total_deleted(self) -> int:
        return sum(self.deleted.values())

    def as_log(self) -> dict[str, Any]:
        return {
            "participants": self.participants,
            "refused": self.refused,
            "scanned": dict(self.scanned),
            "deleted": dict(self.deleted),
            "deleted_types": dict(self.deleted_types),
            "kept_types": dict(self.kept_types),
        }


def names_one_of(data: bytes, wanted: frozenset[str]) -> bool:
    """Whether ``data`` holds one of the ``wanted`` UUIDs (as 32 lower-case hex digits)."""
    return any(match.group().replace(b"-", b"").lower().decode() in wanted for match in _UUID.finditer(data))


def _message_bytes(msg: Msg) -> bytes:
    headers = msg.headers or {}
    return b"\n".join([msg.data or b"", *(f"{k}: {v}".encode() for k, v in headers.items())])


def _original_subject(msg: Msg, dead_letters: bool) -> str:
    if dead_letters:
        return (msg.headers or {}).get(DL_SUBJECT, "")
    return msg.subject


def _kept_type(msg: Msg, dead_letters: bool, settings: CommonSettings) -> str | None:
    """The event type when the message is one kept by design: its subject is a kept type's, and its
    body is a well-formed event of that type from its owner (a forged one is not kept)."""
    subject = _original_subject(msg, dead_letters)
    kept = {subject_for(t, settings.subject_prefix): t for t in KEPT_TYPES}
    if subject not in kept:
        return None
    try:
        event = CloudEvent.from_json_bytes(msg.data)
    except ValueError:
        return None
    if event.type != kept[subject] or origin_problem(subject, event, settings.subject_prefix) is not None:
        return None
    return event.type


def _type_label(msg: Msg, dead_letters: bool, settings: CommonSettings) -> str:
    """The message's event type for the report, from its subject (or a dead letter's header)."""
    if dead_letters:
        name = (msg.headers or {}).get(DL_EVENT_TYPE, "")
    else:
        name = "dk.sib." + msg.subject[len(settings.subject_prefix) + 1 :]
    return name if _TYPE_NAME.match(name) else "other"


async def _scan_consumer(js: JetStreamContext, stream: str) -> Any:
    """A fresh ephemeral consumer of the whole stream: one left by a stopped run is deleted first, as
    creating it again under the same name would carry on from where that one stopped."""
    with contextlib.suppress(NotFoundError):
        await js.delete_consumer(stream, ERASER_SCAN)
    await js.add_consumer(
        stream,
        ConsumerConfig(
            name=ERASER_SCAN,
            deliver_policy=DeliverPolicy.ALL,
            ack_policy=AckPolicy.NONE,
            inactive_threshold=60.0,
            mem_storage=True,
        ),
    )
    return await js.pull_subscribe_bind(name=ERASER_SCAN, stream=stream)


async def erase_from_stream(
    js: JetStreamContext,
    settings: CommonSettings,
    stream: str,
    participant_ids: Iterable[str],
    keepalive: Callable[[], Awaitable[None]] | None = None,
) -> ErasureReport:
    """Read ``stream`` once from its first message and delete those naming one of the participants,
    but for the kept types. A message deleted meanwhile (another run) counts as deleted."""
    wanted = frozenset(uuid.UUID(p).hex for p in participant_ids)
    dead_letters = stream == dead_letter_stream(settings)
    report = ErasureReport(scanned={stream: 0}, deleted={stream: 0})
    info = await js.stream_info(stream)
    if info.config.deny_delete:
        raise RuntimeError(f"stream {stream} denies deleting messages (deny_delete): nothing erased")
    if not wanted or not info.state.messages:
        return report
    subscription = await _scan_consumer(js, stream)
    doomed: list[tuple[int, str]] = []
    last_touch = time.monotonic()
    try:
        remaining = int((await subscription.consumer_info()).num_pending or 0)
        while remaining > 0:
            try:
                msgs = await subscription.fetch(min(FETCH_BATCH, remaining), timeout=5)
            except (TimeoutError, nats.errors.TimeoutError):
                break
            for msg in msgs:
                report.scanned[stream] += 1
                remaining = int(msg.metadata.num_pending)
                if not names_one_of(_message_bytes(msg), wanted):
                    continue
                kept = _kept_type(msg, dead_letters, settings)
                if kept is not None:
                    report.kept_types[kept] += 1
                    continue
                doomed.append((msg.metadata.sequence.stream, _type_label(msg, dead_letters, settings)))
            if keepalive is not None and time.monotonic() - last_touch > ACK_WAIT_SECONDS / 3:
                await keepalive()
                last_touch = time.monotonic()
    finally:
        with contextlib.suppress(Exception):
            await subscription.unsubscribe()
        with contextlib.suppress(Exception):
            await js.delete_consumer(stream, ERASER_SCAN)
    for seq, label in doomed:
        with contextlib.suppress(NotFoundError):  # gone already: deleted by a run beside this one
            await js.delete_msg(stream, seq)
        report.deleted[stream] += 1
        report.deleted_types[label] += 1
    return report


async def erase_participants(
    js: JetStreamContext,
    settings: CommonSettings,
    participant_ids: Sequence[str],
    keepalive: Callable[[], Awaitable[None]] | None = None,
) -> ErasureReport:
    """The participants' messages out of the event stream and the dead-letter stream."""
    report = ErasureReport(participants=len(set(participant_ids)))
    for stream in (settings.nats_stream, dead_letter_stream(settings)):
        report.merge(await erase_from_stream(js, settings, stream, participant_ids, keepalive))
    return report


def eraser_consumer_config(settings: CommonSettings) -> ConsumerConfig:
    return ConsumerConfig(
        durable_name=ERASER,
        deliver_policy=DeliverPolicy.ALL,
        ack_policy=AckPolicy.EXPLICIT,
        ack_wait=ACK_WAIT_SECONDS,
        max_deliver=-1,  # an erasure is never given up
        filter_subject=subject_for(ParticipantErasedV1.event_type, settings.subject_prefix),
        max_ack_pending=FETCH_BATCH,
    )


def erased_participant(msg: Msg, settings: CommonSettings) -> str | None:
    """The participant id an erasure event names, or None when it is no valid erasure event (then
    nothing is deleted on its account)."""
    try:
        event = CloudEvent.from_json_bytes(msg.data)
        payload = ParticipantErasedV1.model_validate(event.data)
        if event.type != ParticipantErasedV1.event_type:
            return None
        if origin_problem(msg.subject, event, settings.subject_prefix) is not None:
            return None
        return str(uuid.UUID(payload.participant_id))
    except ValueError:
        return None


async def run_once(js: JetStreamContext, settings: CommonSettings, wait: float = 1.0) -> ErasureReport:
    """The erasure events pending on the durable consumer (waiting up to ``wait`` seconds for the
    first), each batch erased with one read of each stream, then acked."""
    await js.add_consumer(settings.nats_stream, eraser_consumer_config(settings))
    subscription = await js.pull_subscribe_bind(ERASER, stream=settings.nats_stream)
    total = ErasureReport()
    timeout = wait
    while True:
        try:
            msgs: list[Msg] = await subscription.fetch(FETCH_BATCH, timeout=timeout)
        except (TimeoutError, nats.errors.TimeoutError):
            break
        timeout = 1.0
        valid = [(msg, erased_participant(msg, settings)) for msg in msgs]
        ids = sorted({pid for _, pid in valid if pid is not None})

        async def keepalive(batch: list[Msg] = msgs) -> None:
            for msg in batch:
                await msg.in_progress()

        report = await erase_participants(js, settings, ids, keepalive)
        for msg, pid in valid:
            if pid is None:
                report.refused += 1
                log.error("erasure_event_refused", stream_seq=msg.metadata.sequence.stream)
                await msg.term()
            else:
                await msg.ack_sync(timeout=5)
        log.info("streams_erased", **report.as_log())
        total.merge(report)
    with contextlib.suppress(Exception):
        await subscription.unsubscribe()
    return total


def eraser_settings() -> CommonSettings:
    """Settings from the environment, as the NATS user ``eraser`` (on a developer's machine with the
    password `make run` generated)."""
    if "NATS_USER" in os.environ or "NATS_CREDS_FILE" in os.environ or "NATS_NKEY_SEED" in os.environ:
        return CommonSettings(service_name=ERASER)
    overrides: dict[str, Any] = {"service_name": ERASER, "nats_user": ERASER}
    development = development_nats_credentials(ERASER)
    if development and "NATS_PASSWORD" not in os.environ:
        overrides["nats_password"] = development["NATS_PASSWORD"]
        if "NATS_URL" not in os.environ:
            overrides["nats_url"] = development["NATS_URL"]
    return CommonSettings(**overrides)


async def _connect(settings: CommonSettings) -> tuple[NatsClient, JetStreamContext]:
    client = await nats.connect(
        servers=[settings.nats_url],
        connect_timeout=5,
        name="sib-eraser",
        max_reconnect_attempts=-1,
        **connect_options(settings),
    )
    return client, client.jetstream(timeout=10)


async def cmd_erase_streams(settings: CommonSettings, every: float | None) -> int:
    """``--once`` (``every`` None): the pending erasures, a summary printed. ``--every``: for ever,
    a failed round logged and tried again after ``every`` seconds."""
    client, js = await _connect(settings)
    try:
        if every is None:
            report = await run_once(js, settings)
            print(json.dumps(report.as_log()))
            return 0
        while True:
            try:
                await run_once(js, settings, wait=every)
            except Exception as exc:
                log.warning("streams_erase_failed", error=str(exc) or type(exc).__name__, retry_in=every)
                await asyncio.sleep(every)
    finally:
        await client.close()
