"""``new_events`` writes the outbox's envelopes without the envelope model: the same bytes as
``new_event(...).to_json_bytes()``, the same id and type, and the same refusals."""

from __future__ import annotations

from contextlib import AbstractContextManager
from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st
from opentelemetry.trace import TraceFlags, TraceState

from libs.common.contracts import (
    ProgrammeTerms,
    ProgrammeTermsPublishedV1,
    Split,
    StatusCategory,
    StatusCode,
    StatusRecordedJson,
    StatusRecordedV1,
)
from libs.common.events import (
    CloudEvent,
    EventPayload,
    PreparedEvent,
    UnknownEventType,
    new_event,
    new_events,
    trace_headers,
)
from libs.common.tracing import Span, SpanContext, SpanKind, fallback_tracing, started_span, trace_fields

texts = st.text(min_size=1, max_size=30)  # any characters: quotes, backslashes, control, non-ASCII
zones = st.sampled_from([UTC, timezone(timedelta(hours=1)), timezone(timedelta(hours=-9, minutes=-30))])
# hypothesis takes naive bounds and puts each time in one of the zones
times = st.datetimes(datetime(2000, 1, 1), datetime(2100, 1, 1), timezones=zones)  # noqa: DTZ001
ids = st.uuids().map(str)
# What a request's span context may hold: any ids, any flags, a tracestate of a few members or none.
span_contexts = st.builds(
    lambda trace_id, span_id, flags, state: SpanContext(
        trace_id, span_id, is_remote=False, trace_flags=TraceFlags(flags), trace_state=TraceState(state)
    ),
    st.integers(min_value=1, max_value=2**128 - 1),
    st.integers(min_value=1, max_value=2**64 - 1),
    st.integers(min_value=0, max_value=255),
    st.lists(
        st.tuples(
            st.sampled_from(["rojo", "congo", "t1@vendor"]), st.from_regex(r"[a-z0-9=]{1,12}", fullmatch=True)
        ),
        max_size=3,
        unique_by=lambda member: member[0],
    ),
)


def the_request() -> AbstractContextManager[Span]:
    """A request's span, current for the block (what an event made without a span context continues)."""
    return started_span(fallback_tracing(), "request", SpanKind.SERVER, None)


@st.composite
def status_recorded(draw: st.DrawFn) -> StatusRecordedV1:
    valid_from = draw(st.dates(min_value=date(2020, 1, 1), max_value=date(2030, 1, 1)))
    return StatusRecordedV1(
        record_id=draw(ids),
        participant_id=draw(ids),
        programme_id=draw(st.from_regex(r"[a-z0-9][a-z0-9-]{1,20}[a-z0-9]", fullmatch=True)),
        code=draw(st.sampled_from(list(StatusCode))),
        category=draw(st.sampled_from(list(StatusCategory))),
        valid_from=valid_from,
        valid_to=draw(st.none() | st.just(valid_from + timedelta(days=6))),
        recording_seq=draw(st.integers(min_value=1, max_value=10**9)),
        recorded_at=draw(times),
    )


@st.composite
def terms_published(draw: st.DrawFn) -> ProgrammeTermsPublishedV1:
    investor = draw(st.integers(min_value=0, max_value=100))
    return ProgrammeTermsPublishedV1(
        programme_id="hedensted-2022",
        name=draw(texts),
        version=draw(st.integers(min_value=1, max_value=99)),
        effective_from=date(2022, 9, 1),
        published_at=draw(times),
        terms=ProgrammeTerms(
            tracks={"sygedagpenge": draw(st.integers(min_value=1, max_value=500))},
            fee_per_month_dkk=draw(st.decimals(min_value=1, max_value=10**6, places=2)),
            total_cap_dkk=Decimal("5600000"),
            split=Split(investor_percent=Decimal(investor), provider_percent=Decimal(100 - investor)),
        ),
    )


def prepared(
    items: list[tuple[EventPayload, str | None]],
    trace: SpanContext | None = None,
    time: datetime | None = None,
) -> list[PreparedEvent]:
    """The tests' oracle (it was ``prepare_events`` in libs/common/events.py, which only tests called):
    each payload written by its model's ``model_dump_json()`` and given to ``new_events``."""
    if not items:
        return []
    [contract] = {type(payload) for payload, _ in items}
    written = [(payload.model_dump_json(), subject) for payload, subject in items]
    return new_events(contract, written, trace=trace, time=time)


@given(
    payload=status_recorded() | terms_published(),
    subject=st.none() | texts,
    trace=st.none() | span_contexts,
    at=times,
)
def test_a_prepared_event_is_byte_for_byte_the_envelope_new_event_serialises(
    payload: EventPayload, subject: str | None, trace: SpanContext | None, at: datetime
) -> None:
    with the_request() as request:
        [one] = prepared([(payload, subject)], trace=trace, time=at)
        made = new_event(payload, subject=subject, trace=trace, time=at)
    # The same bytes but for the id (each event gets a new one).
    assert one.envelope == made.model_copy(update={"id": one.id}).to_json_bytes().decode()
    assert one.type == payload.event_type
    parsed = CloudEvent.from_json_bytes(one.envelope.encode())
    assert parsed.id == one.id
    traceparent, tracestate, correlation = trace_fields(trace or request.get_span_context())
    assert (parsed.traceparent, parsed.tracestate, parsed.correlationid) == (
        traceparent,
        tracestate,
        correlation,
    )
    # The relay's headers, read off the stored text, are the envelope's attributes.
    expected = {"traceparent": traceparent} | ({"tracestate": tracestate} if tracestate else {})
    assert trace_headers(one.envelope) == expected
    assert type(payload).model_validate(parsed.data) == payload


@given(
    items=st.lists(st.tuples(status_recorded(), st.none() | texts), max_size=8)
    | st.lists(st.tuples(terms_published(), st.none() | texts), max_size=8),
    trace=st.none() | span_contexts,
    at=times,
)
def test_events_prepared_together_are_each_the_envelope_new_event_serialises(
    items: list[tuple[EventPayload, str | None]], trace: SpanContext | None, at: datetime
) -> None:
    with the_request():
        together = prepared(items, trace=trace, time=at)
        made = [new_event(p, subject=s, trace=trace, time=at) for p, s in items]
    assert len(together) == len(items)
    for event, expected, (payload, _) in zip(together, made, items, strict=True):
        assert event.envelope == expected.model_copy(update={"id": event.id}).to_json_bytes().decode()
        assert event.type == payload.event_type
    assert [e.id for e in together] == sorted({e.id for e in together})  # distinct, in order


def test_prepared_event_ids_rise_and_a_time_without_a_zone_is_refused() -> None:
    payload = StatusRecordedV1(
        record_id="r", participant_id="p", programme_id="p-1", code=StatusCode.employed,
        category=StatusCategory.public_support, valid_from=date(2024, 1, 1), valid_to=None,
        recording_seq=1, recorded_at=datetime(2024, 1, 1, tzinfo=UTC),
    )  # fmt: skip
    before = datetime.now(UTC)
    events = [event for _ in range(100) for event in prepared([(payload, None)])]
    assert [e.id for e in events] == sorted(e.id for e in events)
    stamped = CloudEvent.from_json_bytes(events[0].envelope.encode()).time
    assert stamped.utcoffset() == timedelta(0) and before <= stamped <= datetime.now(UTC)
    naive = datetime(2024, 1, 1)  # noqa: DTZ001 - the point of the test
    with pytest.raises(ValueError, match="time zone"):
        new_event(payload, time=naive)
    with pytest.raises(ValueError, match="time zone"):
        new_events(StatusRecordedV1, [(payload.model_dump_json(), None)], time=naive)


def _fields(payload: StatusRecordedV1) -> dict[str, object]:
    return {
        "record_id": payload.record_id,
        "participant_id": payload.participant_id,
        "programme_id": payload.programme_id,
        "code": payload.code.value,
        "category": payload.category.value,
        "valid_from": payload.valid_from,
        "valid_to": payload.valid_to,
        "recording_seq": payload.recording_seq,
    }


@st.composite
def status_recorded_any_ids(draw: st.DrawFn) -> StatusRecordedV1:
    """As ``status_recorded``, with ids of any characters (the contract types them as strings)."""
    payload = draw(status_recorded())
    return payload.model_copy(update={"record_id": draw(texts), "participant_id": draw(texts)})


@given(payloads=st.lists(status_recorded() | status_recorded_any_ids(), min_size=1, max_size=8), at=times)
def test_the_status_recorded_writer_writes_what_the_model_dumps(
    payloads: list[StatusRecordedV1], at: datetime
) -> None:
    # One writer per recording (one recorded_at), as a batch uses it: its quoted ids are reused.
    write = StatusRecordedJson(at)
    for payload in payloads:
        expected = payload.model_copy(update={"recorded_at": at})
        written = write(**_fields(payload))  # type: ignore[arg-type]
        assert written == expected.model_dump_json()
        assert StatusRecordedV1.model_validate_json(written) == expected


def test_the_status_recorded_writer_refuses_what_the_model_refuses() -> None:
    good = {
        "record_id": "r", "participant_id": "p", "programme_id": "p-1", "code": "employed",
        "category": "self_supporting", "valid_from": date(2024, 1, 1), "valid_to": None, "recording_seq": 1,
    }  # fmt: skip
    write = StatusRecordedJson(datetime(2024, 1, 2, tzinfo=UTC))
    assert '"code":"employed"' in write(**good)  # type: ignore[arg-type]
    for field, bad in [
        ("code", "retired"),
        ("code", "Employed"),
        ("category", "employed"),
        ("recording_seq", 0),
        ("recording_seq", True),
        ("valid_from", datetime(2024, 1, 1, tzinfo=UTC)),
        ("valid_to", "2024-01-02"),
    ]:
        with pytest.raises((ValueError, TypeError)):
            write(**(good | {field: bad}))  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="time zone"):
        StatusRecordedJson(datetime(2024, 1, 2))  # noqa: DTZ001 - the point of the test


@given(payload=status_recorded(), subject=st.none() | texts, trace=st.none() | span_contexts, at=times)
def test_events_prepared_from_written_payloads_are_the_envelope_new_event_serialises(
    payload: StatusRecordedV1, subject: str | None, trace: SpanContext | None, at: datetime
) -> None:
    write = StatusRecordedJson(payload.recorded_at)
    with the_request():
        [event] = new_events(
            StatusRecordedV1,
            [(write(**_fields(payload)), subject)],  # type: ignore[arg-type]
            trace=trace,
            time=at,
        )
        made = new_event(payload, subject=subject, trace=trace, time=at)
    assert event.envelope == made.model_copy(update={"id": event.id}).to_json_bytes().decode()
    assert event.type == payload.event_type


class NobodysThingHappenedV1(EventPayload):
    """A contract never registered."""

    event_type = "dk.sib.nobody.thing.happened.v1"


def test_a_written_payload_of_an_unknown_type_is_refused() -> None:
    with pytest.raises(UnknownEventType):
        new_events(NobodysThingHappenedV1, [("{}", None)])
