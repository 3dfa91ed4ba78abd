"""The CloudEvents 1.0 envelope and the registry of versioned payload contracts.

Every payload class declares its CloudEvents ``type`` (``dk.sib.<service>.<entity>.<what>.v<N>``).
A changed payload is a new class with a new ``.vN`` type; old versions stay registered so
consumers can still read what the stream already holds.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, ClassVar, Literal, TypeVar

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field
from pydantic_core import to_json

from libs.common.clock import utcnow
from libs.common.ids import uuid7_str
from libs.common.tracing import SpanContext, current_trace, trace_fields

TYPE_PREFIX = "dk.sib."


class EventPayload(BaseModel):
    """Base of every event payload. Subclasses set ``event_type``.

    Unknown fields are ignored when reading: a version may gain optional fields (an additive change),
    and a consumer deployed before the publisher must still read the new events."""

    model_config = ConfigDict(frozen=True, extra="ignore")
    event_type: ClassVar[str]


class CloudEvent(BaseModel):
    """A CloudEvents 1.0 event in structured JSON mode. Extensions: ``traceparent`` and ``tracestate``
    (CloudEvents distributed tracing: the W3C trace context of the span that made the event), and
    ``correlationid``, the trace id alone (an alias kept for log searches and older readers)."""

    model_config = ConfigDict(frozen=True, extra="allow")

    specversion: Literal["1.0"] = "1.0"
    # Time-ordered: an event id is a key of the outbox and of every consumer's inbox (libs/common/ids.py).
    id: str = Field(default_factory=uuid7_str)
    source: str
    type: str
    subject: str | None = None
    time: AwareDatetime = Field(default_factory=utcnow)
    datacontenttype: Literal["application/json"] = "application/json"
    correlationid: str | None = None
    traceparent: str | None = None
    tracestate: str | None = None
    data: dict[str, Any]

    def to_json_bytes(self) -> bytes:
        return self.model_dump_json(exclude_none=True).encode()

    @classmethod
    def from_json_bytes(cls, raw: bytes) -> CloudEvent:
        return cls.model_validate_json(raw)


P = TypeVar("P", bound=EventPayload)

_REGISTRY: dict[str, type[EventPayload]] = {}


def register(payload_class: type[P]) -> type[P]:
    """Class decorator: make a payload contract known by its ``event_type``."""
    event_type = payload_class.event_type
    if not event_type.startswith(TYPE_PREFIX) or not event_type.rsplit(".", 1)[-1].startswith("v"):
        raise ValueError(f"event type {event_type!r} must look like dk.sib.<service>.<name>.vN")
    existing = _REGISTRY.get(event_type)
    if existing is not None and existing is not payload_class:
        raise ValueError(f"event type {event_type!r} registered twice")
    _REGISTRY[event_type] = payload_class
    return payload_class


def registered_contracts() -> dict[str, type[EventPayload]]:
    return dict(_REGISTRY)


def service_of(event_type: str) -> str:
    return event_type[len(TYPE_PREFIX) :].split(".", 1)[0]


def subject_for(event_type: str, prefix: str) -> str:
    """NATS subject of an event type: ``dk.sib.intake.programme.x.v1`` -> ``<prefix>.intake.programme.x.v1``."""
    return f"{prefix}.{event_type[len(TYPE_PREFIX) :]}"


def origin_problem(subject: str, event: CloudEvent, prefix: str) -> str | None:
    """Why an event may not be taken from ``subject`` (None when it may): its ``type`` must be the
    subject's, and its ``source`` the service that owns the subject."""
    if not event.type.startswith(TYPE_PREFIX) or subject != subject_for(event.type, prefix):
        return f"the type {event.type[:200]} does not belong on the subject {subject}"
    owner = subject[len(prefix) + 1 :].split(".", 1)[0]
    if event.source != _source_of(event.type):
        return f"the source {event.source[:200]} is not {owner}, the owner of {subject}"
    return None


def _stamp(
    trace: SpanContext | None, time: datetime | None
) -> tuple[datetime, tuple[str | None, str | None, str | None]]:
    """A new event's time (aware; now when not given) and its ``traceparent``, ``tracestate`` and
    ``correlationid`` (of the current span when no span context is given)."""
    at = time or utcnow()
    if at.tzinfo is None:
        raise ValueError("an event's time must carry a time zone")
    return at, trace_fields(trace or current_trace())


_SOURCES: dict[str, str] = {}  # per event type: made once, as an event of many is made per item


def _source_of(event_type: str) -> str:
    source = _SOURCES.get(event_type)
    if source is None:
        source = _SOURCES[event_type] = f"/sib/{service_of(event_type)}"
    return source


@dataclass(slots=True)  # not frozen: one per event of a recompute, and a frozen __init__ is slower
class WrittenPayload:
    """A payload of ``contract`` already written as ``contract(...).model_dump(mode="json")`` would
    write it: for an event of many items, where a model per item would cost more than the rest of the
    work (a test of each such payload holds it equal to the model's)."""

    contract: type[EventPayload]
    data: dict[str, Any]


def new_event(
    payload: EventPayload | WrittenPayload,
    *,
    subject: str | None = None,
    trace: SpanContext | None = None,
    time: datetime | None = None,
) -> CloudEvent:
    """The envelope of one event: a new time-ordered id, the source and type of the payload's contract,
    its time (now when not given) and the trace it continues (``trace``: the span context of what
    caused it; the current span's when not given)."""
    at, (traceparent, tracestate, correlation) = _stamp(trace, time)
    if isinstance(payload, WrittenPayload):
        event_type, data = payload.contract.event_type, payload.data
    else:
        event_type, data = payload.event_type, payload.model_dump(mode="json")
    return CloudEvent(
        id=uuid7_str(),
        source=_source_of(event_type),
        type=event_type,
        subject=subject,
        time=at,
        correlationid=correlation,
        traceparent=traceparent,
        tracestate=tracestate,
        data=data,
    )


@dataclass(slots=True)  # not frozen: one per event of a batch, and a frozen __init__ is slower
class PreparedEvent:
    """An event as the outbox stores it: ``new_event(...).to_json_bytes()``, byte for byte, made
    without the envelope model (for thousands of events at once; a unit test holds the bytes equal)."""

    id: str
    type: str
    envelope: str


def new_events(
    contract: type[EventPayload],
    written: Iterable[tuple[str, str | None]],
    *,
    trace: SpanContext | None = None,
    time: datetime | None = None,
) -> list[PreparedEvent]:
    """``new_event`` for many payloads of one contract at once, each already written as its
    ``model_dump_json()`` would write it (by the contract's own writer, such as ``StatusRecordedJson``,
    whose tests hold its output equal to the model's), with its subject, all with one time and one
    trace: the parts of the envelope they share are serialised once, not once per event
    (docs/performance.md#eighth-session-2026-12-04)."""
    at, (traceparent, tracestate, correlation) = _stamp(trace, time)
    event_type = contract.event_type
    if _REGISTRY.get(event_type) is not contract:
        raise UnknownEventType(event_type)
    source, kind = to_json(_source_of(event_type)).decode(), to_json(event_type).decode()
    head = f',"source":{source},"type":{kind}'
    tail = ',"time":' + to_json(at).decode() + ',"datacontenttype":"application/json"'
    if correlation is not None:
        tail += ',"correlationid":' + to_json(correlation).decode()
    if traceparent is not None:
        tail += ',"traceparent":' + to_json(traceparent).decode()
    if tracestate is not None:
        tail += ',"tracestate":' + to_json(tracestate).decode()
    tail += ',"data":'
    abouts: dict[str | None, str] = {None: ""}  # per subject: a batch names each participant many times
    prepared = []
    for data, subject in written:
        event_id = uuid7_str()  # hex digits and dashes: nothing to escape
        about = abouts.get(subject)
        if about is None:
            about = abouts[subject] = ',"subject":' + to_json(subject).decode()
        prepared.append(
            PreparedEvent(
                event_id, event_type, f'{{"specversion":"1.0","id":"{event_id}"{head}{about}{tail}{data}}}'
            )
        )
    return prepared


_TRACE_KEYS = (("traceparent", '"traceparent":"'), ("tracestate", '"tracestate":"'))


def trace_headers(envelope: str) -> dict[str, str]:
    """The trace context of a stored envelope (``traceparent``, ``tracestate``), as the message headers
    the relay sends it with. Read off the text, not parsed: the envelope is ours, its attributes come
    before its ``data``, and a quote inside a value is escaped, so the first match is the attribute."""
    head = envelope.find(',"data":')
    found: dict[str, str] = {}
    for name, key in _TRACE_KEYS:
        start = envelope.find(key, 0, head)
        if start >= 0:
            start += len(key)
            found[name] = envelope[start : envelope.index('"', start)]
    return found


class UnknownEventType(LookupError):
    pass


def parse_payload(event: CloudEvent) -> EventPayload:
    payload_class = _REGISTRY.get(event.type)
    if payload_class is None:
        raise UnknownEventType(event.type)
    return payload_class.model_validate(event.data)
