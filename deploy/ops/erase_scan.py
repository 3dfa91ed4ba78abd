"""The stream eraser's reading and deleting: one pass over a stream with an ephemeral consumer, deleting
the messages that name an erased participant, but for those kept by design (see erase_streams.py)."""

from __future__ import annotations

import contextlib
import re
import time
import uuid
from collections import Counter
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import nats
from nats.aio.msg import Msg
from nats.js import JetStreamContext
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy
from nats.js.errors import NotFoundError

from deploy.nats_auth import ERASER_SCAN
from libs.common.contracts import ParticipantErasedV1, StatementIssuedV1, StatementLinesV1
from libs.common.events import CloudEvent, origin_problem, subject_for
from libs.common.nats import DL_EVENT_TYPE, DL_SUBJECT, dead_letter_stream
from libs.common.settings import CommonSettings

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
    waiting: int = 0  # erasure events a service has not acked yet (given back, nothing deleted)

    def merge(self, other: ErasureReport) -> None:
        self.participants += other.participants
        self.refused += other.refused
        self.waiting += other.waiting
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
            "waiting": self.waiting,
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
        if keepalive is not None and time.monotonic() - last_touch > ACK_WAIT_SECONDS / 3:
            await keepalive()
            last_touch = time.monotonic()
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
