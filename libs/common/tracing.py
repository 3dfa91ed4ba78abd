"""Tracing with OpenTelemetry: the W3C trace context of a request follows it over HTTP, into its events
(the CloudEvents distributed-tracing attributes and the NATS message headers) and into every consumer.

Each service has an SDK ``TracerProvider`` of its own (resource ``service.name``), made when its app is
made, so every request and every consumed event has a trace id and a span id whether spans are exported
or not. Export is off unless the standard variables ask for it: ``OTEL_TRACES_EXPORTER`` (``otlp``,
``console`` or ``none``), or an ``OTEL_EXPORTER_OTLP_ENDPOINT`` / ``OTEL_EXPORTER_OTLP_TRACES_ENDPOINT``
(OTLP over HTTP, batched; the exporter and ``OTEL_BSP_*`` read the rest of their variables themselves).
``OTEL_SDK_DISABLED=true`` makes no spans: a caller's trace context is passed on as it came.

Without export, a span is recorded only when its caller's trace is sampled (``ParentBased(ALWAYS_OFF)``):
a span nobody exports costs nothing to record. With export, ``OTEL_TRACES_SAMPLER`` decides (the SDK's
default: ``parentbased_always_on``).

``X-Correlation-ID`` stays as an alias: a response's and an event's ``correlationid`` are the trace id
(32 lowercase hex digits), so log searches by it keep working; an incoming one sets nothing.
"""

from __future__ import annotations

import logging
import os
import re
from collections.abc import Mapping
from contextlib import AbstractContextManager
from dataclasses import dataclass
from random import getrandbits
from typing import Any

from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry.context import Context
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import SpanProcessor, TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, ConsoleSpanExporter, SpanExporter
from opentelemetry.sdk.trace.sampling import ALWAYS_OFF, ParentBased
from opentelemetry.trace import (
    INVALID_SPAN_CONTEXT,
    NonRecordingSpan,
    Span,
    SpanContext,
    SpanKind,
    StatusCode,
    TraceFlags,
    Tracer,
)
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

__all__ = [
    "CORRELATION_HEADER",
    "NO_TRACE",
    "TRACEPARENT",
    "TRACESTATE",
    "Span",
    "SpanContext",
    "SpanKind",
    "StatusCode",
    "Tracing",
    "configure_tracing",
    "context_of",
    "correlation_id",
    "current_trace",
    "exporters_requested",
    "fallback_tracing",
    "inject",
    "started_span",
    "trace_fields",
]

TRACEPARENT = "traceparent"
TRACESTATE = "tracestate"
CORRELATION_HEADER = "X-Correlation-ID"

# A span context that names no trace: an event made with it carries none (where "the current span's"
# would be another request's).
NO_TRACE = INVALID_SPAN_CONTEXT

_W3C = TraceContextTextMapPropagator()
_VERSION_00 = re.compile(r"00-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})")
_ROOT_FLAGS = TraceFlags(TraceFlags.RANDOM_TRACE_ID)
_LAST_READ: tuple[str, Context] = ("", Context())  # context_of's last traceparent and what it read
_TRUE = "true"
_SUPPORTED = ("otlp", "console")
_log = logging.getLogger(__name__)  # the standard library's: structlog's configuration imports this module


@dataclass(frozen=True)
class Tracing:
    """A service's tracer provider and the tracer its middleware and consumers start spans with.
    ``lean``: nothing records a span of an unsampled trace (no exporter, no processor, the SDK on), so
    ``started_span`` makes those without the SDK (docs/performance.md#tracing-2026-12-06)."""

    provider: TracerProvider
    tracer: Tracer
    exporters: tuple[str, ...]
    lean: bool

    def shutdown(self) -> None:
        """Export what is still buffered, then stop (the end of the lifespan)."""
        self.provider.shutdown()


def exporters_requested(environ: Mapping[str, str] | None = None) -> tuple[str, ...]:
    """The exporters the standard variables ask for (``otlp``, ``console``): none by default."""
    env = os.environ if environ is None else environ
    if env.get("OTEL_SDK_DISABLED", "").strip().lower() == _TRUE:
        return ()
    named = env.get("OTEL_TRACES_EXPORTER")
    if named is not None and named.strip():
        wanted = [name.strip().lower() for name in named.split(",")]
        if unknown := [name for name in wanted if name not in (*_SUPPORTED, "none")]:
            _log.warning("OTEL_TRACES_EXPORTER names exporters this service does not have: %s", unknown)
        return tuple(name for name in _SUPPORTED if name in wanted)
    if env.get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT") or env.get("OTEL_EXPORTER_OTLP_ENDPOINT"):
        return ("otlp",)
    return ()


def _exporter(name: str) -> SpanExporter:
    if name == "console":
        return ConsoleSpanExporter()
    # Imported only when asked for: it brings protobuf and requests along.
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

    return OTLPSpanExporter()


def configure_tracing(service: str, processors: tuple[SpanProcessor, ...] = ()) -> Tracing:
    """The service's tracer provider, with the exporters the standard variables ask for (``processors``:
    more span processors, such as a test's in-memory exporter, which also make every span recorded)."""
    exporters = exporters_requested()
    # OTEL_SERVICE_NAME, when set, names the service instead (Resource.create reads it).
    attributes = {} if os.environ.get("OTEL_SERVICE_NAME") else {"service.name": service}
    recorded = bool(exporters or processors)
    # The SDK reads OTEL_SDK_DISABLED and OTEL_TRACES_SAMPLER itself.
    provider = TracerProvider(
        resource=Resource.create(attributes),
        sampler=None if recorded else ParentBased(ALWAYS_OFF),
    )
    for name in exporters:
        provider.add_span_processor(BatchSpanProcessor(_exporter(name)))
    for processor in processors:
        provider.add_span_processor(processor)
    disabled = os.environ.get("OTEL_SDK_DISABLED", "").strip().lower() == _TRUE
    return Tracing(provider, provider.get_tracer("sib"), exporters, lean=not recorded and not disabled)


_FALLBACK: Tracing | None = None


def fallback_tracing() -> Tracing:
    """A tracer for code run outside a service's app (operator tools, tests), made once per process from
    the same variables."""
    global _FALLBACK
    if _FALLBACK is None:
        _FALLBACK = configure_tracing("sib")
    return _FALLBACK


def context_of(traceparent: str | None, tracestate: str | None = None) -> Context | None:
    """The trace context a W3C ``traceparent`` (and ``tracestate``) names, or None when there is none
    or it is malformed (then a new trace starts)."""
    global _LAST_READ
    if not traceparent:
        return None
    # The usual form (version 00, no tracestate) read here; any other through the propagator.
    if not tracestate and len(traceparent) == 55:
        last = _LAST_READ
        if last[0] == traceparent:
            return last[1]  # the events of one batch request share their traceparent
        if (found := _VERSION_00.fullmatch(traceparent)) is None:
            return None
        trace_id, span_id = int(found[1], 16), int(found[2], 16)
        if not trace_id or not span_id:
            return None
        remote = SpanContext(trace_id, span_id, is_remote=True, trace_flags=TraceFlags(int(found[3], 16)))
        read = trace.set_span_in_context(NonRecordingSpan(remote), Context())
        _LAST_READ = (traceparent, read)
        return read
    carrier = {TRACEPARENT: traceparent}
    if tracestate:
        carrier[TRACESTATE] = tracestate
    extracted = _W3C.extract(carrier)
    return extracted if trace.get_current_span(extracted).get_span_context().is_valid else None


def _unrecorded(parent: SpanContext) -> Span:
    """The span the SDK makes when its sampler (``ParentBased(ALWAYS_OFF)``) drops one: a new span id
    in the parent's trace (its tracestate and random flag kept), or in a new random trace; unsampled."""
    span_id = getrandbits(64)
    while not span_id:
        span_id = getrandbits(64)
    if parent.is_valid:
        flags = TraceFlags(parent.trace_flags & TraceFlags.RANDOM_TRACE_ID)
        return NonRecordingSpan(SpanContext(parent.trace_id, span_id, False, flags, parent.trace_state))
    trace_id = getrandbits(128)
    while not trace_id:
        trace_id = getrandbits(128)
    return NonRecordingSpan(SpanContext(trace_id, span_id, False, _ROOT_FLAGS))


class _Started:
    """``started_span``'s context manager (a class: a generator-based one costs more per request)."""

    __slots__ = ("_token", "span")

    def __init__(self, span: Span, parent: Context | None) -> None:
        self.span = span
        self._token = otel_context.attach(trace.set_span_in_context(span, parent))

    def __enter__(self) -> Span:
        return self.span

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None, _tb: Any) -> None:
        span = self.span
        if exc is not None and span.is_recording():
            span.record_exception(exc)
            span.set_status(StatusCode.ERROR, kind.__name__ if kind else "")
        otel_context.detach(self._token)
        span.end()


class _Continued:
    """``started_span``'s context manager when no span is made: the caller's context is current."""

    __slots__ = ("_token", "span")

    def __init__(self, parent: Context) -> None:
        self.span = trace.get_current_span(parent)
        self._token = otel_context.attach(parent)

    def __enter__(self) -> Span:
        return self.span

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None, _tb: Any) -> None:
        otel_context.detach(self._token)


def started_span(
    tracing: Tracing, name: str, kind: SpanKind, parent: Context | None
) -> AbstractContextManager[Span]:
    """A span, current for the block, child of ``parent`` (a caller's or an event's trace context; the
    current one when None). With the SDK disabled no span is made, and the parent stays current."""
    found = trace.get_current_span(parent).get_span_context()
    if tracing.lean and not (found.is_valid and found.trace_flags.sampled):
        if kind is SpanKind.CONSUMER and parent is not None and found.is_valid:
            # A consumer span nobody records would only add a span id: the event's own trace context
            # is made current instead (its trace id in the logs and in the events it causes).
            return _Continued(parent)
        span = _unrecorded(found)  # what the SDK would make, without its cost
    else:
        span = tracing.tracer.start_span(name, context=parent, kind=kind)
        if not span.get_span_context().is_valid and parent is not None:
            return _Continued(parent)  # the SDK disabled: no span, the parent stays current
    return _Started(span, parent)


def current_trace() -> SpanContext | None:
    """The current span's context (to carry into work another task does for this one), or None."""
    found = trace.get_current_span().get_span_context()
    return found if found.is_valid else None


def trace_fields(span_context: SpanContext | None) -> tuple[str | None, str | None, str | None]:
    """An event's ``traceparent``, ``tracestate`` and ``correlationid`` (the trace id) for a span context."""
    if span_context is None or span_context is INVALID_SPAN_CONTEXT or not span_context.is_valid:
        return None, None, None
    trace_id = format(span_context.trace_id, "032x")
    parent = f"00-{trace_id}-{span_context.span_id:016x}-{span_context.trace_flags:02x}"
    state = span_context.trace_state.to_header() if span_context.trace_state else None
    return parent, state or None, trace_id


def correlation_id() -> str | None:
    """The current trace id (32 hex digits): what ``X-Correlation-ID`` and ``correlation_id`` now hold."""
    found = trace.get_current_span().get_span_context()
    return format(found.trace_id, "032x") if found.is_valid else None


def inject(headers: dict[str, str], span_context: SpanContext | None = None) -> dict[str, str]:
    """``headers`` with the W3C trace context of ``span_context`` (the current span's when None)."""
    if span_context is None:
        _W3C.inject(headers)
        return headers
    _W3C.inject(headers, trace.set_span_in_context(NonRecordingSpan(span_context)))
    return headers


def add_trace_ids(_logger: Any, _name: str, event_dict: dict[str, Any]) -> dict[str, Any]:
    """structlog processor: the current span's ``trace_id`` and ``span_id`` on the line."""
    found = trace.get_current_span().get_span_context()
    if found.is_valid:
        event_dict.setdefault("trace_id", format(found.trace_id, "032x"))
        event_dict.setdefault("span_id", format(found.span_id, "016x"))
    return event_dict
