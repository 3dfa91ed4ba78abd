"""The tracer provider each service makes: spans and ids always, an exporter only when the standard
OTEL_* variables ask for one, nothing at all with OTEL_SDK_DISABLED; and what a malformed traceparent
from a caller does (a new trace, not an error)."""

from __future__ import annotations

import dataclasses

import pytest
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SimpleSpanProcessor, SpanExporter
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from libs.common.tracing import (
    SpanContext,
    SpanKind,
    configure_tracing,
    context_of,
    correlation_id,
    current_trace,
    exporters_requested,
    started_span,
)

OTEL_VARIABLES = (
    "OTEL_SDK_DISABLED",
    "OTEL_TRACES_EXPORTER",
    "OTEL_EXPORTER_OTLP_ENDPOINT",
    "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
    "OTEL_SERVICE_NAME",
    "OTEL_TRACES_SAMPLER",
)
CALLER = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"


@pytest.fixture(autouse=True)
def no_otel_variables(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in OTEL_VARIABLES:
        monkeypatch.delenv(name, raising=False)


def exporters_of(provider: TracerProvider) -> list[SpanExporter]:
    processors = provider._active_span_processor._span_processors  # the SDK keeps no public list
    return [p.span_exporter for p in processors if isinstance(p, BatchSpanProcessor)]


def test_without_the_variables_spans_have_ids_and_nothing_is_exported() -> None:
    tracing = configure_tracing("progression")
    assert tracing.exporters == () and exporters_of(tracing.provider) == []
    assert tracing.provider.resource.attributes["service.name"] == "progression"
    with started_span(tracing, "request", SpanKind.SERVER, None) as span:
        assert span.get_span_context().is_valid and not span.is_recording()  # nobody would see it
        assert correlation_id() == f"{span.get_span_context().trace_id:032x}"
    # A caller's sampled trace is continued, and recorded, as the caller asked.
    with started_span(tracing, "request", SpanKind.SERVER, context_of(CALLER)) as child:
        assert child.get_span_context().trace_id == 0x4BF92F3577B34DA6A3CE929D0E0E4736
        assert child.is_recording()


@pytest.mark.parametrize(
    "variables",
    [
        {"OTEL_TRACES_EXPORTER": "otlp"},
        {"OTEL_EXPORTER_OTLP_ENDPOINT": "http://collector:4318"},
        {"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "http://collector:4318/v1/traces"},
    ],
)
def test_the_standard_variables_install_the_otlp_exporter(
    monkeypatch: pytest.MonkeyPatch, variables: dict[str, str]
) -> None:
    for name, value in variables.items():
        monkeypatch.setenv(name, value)
    tracing = configure_tracing("settlement")
    try:
        [exporter] = exporters_of(tracing.provider)
        assert isinstance(exporter, OTLPSpanExporter) and tracing.exporters == ("otlp",)
        with started_span(tracing, "request", SpanKind.SERVER, None) as span:
            assert span.is_recording()  # OTEL_TRACES_SAMPLER's default: parentbased_always_on
    finally:
        tracing.shutdown()


def test_none_or_a_disabled_sdk_installs_nothing_even_with_an_endpoint(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", "http://collector:4318")
    monkeypatch.setenv("OTEL_TRACES_EXPORTER", "none")
    assert exporters_requested() == ()
    assert exporters_of(configure_tracing("intake").provider) == []
    monkeypatch.setenv("OTEL_TRACES_EXPORTER", "otlp")
    monkeypatch.setenv("OTEL_SDK_DISABLED", "true")
    assert exporters_requested() == ()
    tracing = configure_tracing("intake")
    assert exporters_of(tracing.provider) == []
    # No span of its own: a caller's trace context goes on as it came, and without one there is none.
    with started_span(tracing, "request", SpanKind.SERVER, context_of(CALLER)) as span:
        assert correlation_id() == "4bf92f3577b34da6a3ce929d0e0e4736"
        assert f"{span.get_span_context().span_id:016x}" == "00f067aa0ba902b7"
    with started_span(tracing, "request", SpanKind.SERVER, None):
        assert correlation_id() is None


def test_spans_reach_a_processor_with_their_service_and_parent() -> None:
    exported = InMemorySpanExporter()
    tracing = configure_tracing("settlement", processors=(SimpleSpanProcessor(exported),))
    with started_span(tracing, "POST", SpanKind.SERVER, context_of(CALLER)):
        with started_span(tracing, "process", SpanKind.CONSUMER, None):
            pass
    consumer, server = exported.get_finished_spans()
    assert consumer.parent is not None and consumer.parent.span_id == server.context.span_id
    assert server.parent is not None and server.parent.span_id == 0x00F067AA0BA902B7
    assert server.resource.attributes["service.name"] == "settlement"


@pytest.mark.parametrize(
    "traceparent",
    [
        "",
        "garbage",
        "00-00000000000000000000000000000000-00f067aa0ba902b7-01",  # an all-zero trace id
        "00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01",  # an all-zero span id
        "ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",  # the forbidden version
        "00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01",  # upper case
        CALLER + "-extra",  # version 00 has exactly four parts
    ],
)
def test_a_malformed_traceparent_starts_a_new_trace(traceparent: str) -> None:
    assert context_of(traceparent) is None


@pytest.mark.parametrize(
    ("traceparent", "tracestate"),
    [
        (None, None),
        ("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00", None),
        (
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-02",
            "rojo=00f067aa0ba902b7,congo=t61rcWkgMzE",
        ),
        (CALLER, "rojo=1"),
    ],
)
def test_a_span_made_without_the_sdk_is_the_one_the_sdk_would_make(
    traceparent: str | None, tracestate: str | None
) -> None:
    """Export off, a span of an unsampled trace is made without the SDK (docs/performance.md): the same
    trace, flags, tracestate and recording as the SDK's own (the oracle), a new span id."""
    lean = configure_tracing("progression")
    assert lean.lean
    sdk = dataclasses.replace(lean, lean=False)
    parent = context_of(traceparent, tracestate)
    with started_span(lean, "request", SpanKind.SERVER, parent) as made:
        ours = made.get_span_context()
    with started_span(sdk, "request", SpanKind.SERVER, parent) as made_by_sdk:
        theirs = made_by_sdk.get_span_context()
    assert (ours.trace_flags, ours.trace_state, ours.is_remote, made.is_recording()) == (
        theirs.trace_flags,
        theirs.trace_state,
        theirs.is_remote,
        made_by_sdk.is_recording(),
    )
    assert ours.is_valid and ours.span_id != theirs.span_id
    if traceparent is None:
        assert ours.trace_id != theirs.trace_id  # each a new trace
    else:
        assert ours.trace_id == theirs.trace_id == 0x4BF92F3577B34DA6A3CE929D0E0E4736


UNSAMPLED = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00"


def ids_of(span_context: SpanContext | None) -> tuple[int, int, int] | None:
    return (
        None
        if span_context is None
        else (span_context.trace_id, span_context.span_id, span_context.trace_flags)
    )


def test_a_lean_consumer_of_an_unsampled_event_continues_the_event_s_own_context() -> None:
    """No span nobody records (docs/performance.md): the event's trace context is current for the
    block, the one before it again after; a sampled event gets a consumer span of its own."""
    lean = configure_tracing("progression")
    assert lean.lean
    with started_span(lean, "request", SpanKind.SERVER, None) as outer:
        before = outer.get_span_context()
        parent = context_of(UNSAMPLED)
        with started_span(lean, "event", SpanKind.CONSUMER, parent):
            assert ids_of(current_trace()) == (0x4BF92F3577B34DA6A3CE929D0E0E4736, 0x00F067AA0BA902B7, 0)
        assert ids_of(current_trace()) == ids_of(before)
        with started_span(lean, "event", SpanKind.CONSUMER, context_of(CALLER)) as consumer:
            made = consumer.get_span_context()
            assert consumer.is_recording() and ids_of(current_trace()) == ids_of(made)
            assert made.trace_id == 0x4BF92F3577B34DA6A3CE929D0E0E4736 and made.span_id != 0x00F067AA0BA902B7
        assert ids_of(current_trace()) == ids_of(before)


@pytest.mark.parametrize("traceparent", [UNSAMPLED, CALLER])
def test_with_the_sdk_disabled_a_consumer_continues_the_event_s_context(
    monkeypatch: pytest.MonkeyPatch, traceparent: str
) -> None:
    """The parent stays current, whether the no-op tracer hands back its span or gives none."""
    monkeypatch.setenv("OTEL_SDK_DISABLED", "true")
    disabled = configure_tracing("progression")
    parent = context_of(traceparent)
    expected = ids_of(current_trace())
    with started_span(disabled, "event", SpanKind.CONSUMER, parent) as span:
        assert not span.is_recording()
        assert ids_of(current_trace()) == ids_of(span.get_span_context())
        found = ids_of(current_trace())
        assert found is not None and found[:2] == (0x4BF92F3577B34DA6A3CE929D0E0E4736, 0x00F067AA0BA902B7)
    assert ids_of(current_trace()) == expected
