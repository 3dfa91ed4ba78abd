from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal

import pytest

from libs.common.contracts import ProgrammeTerms, ProgrammeTermsPublishedV1, Split
from libs.common.events import (
    CloudEvent,
    EventPayload,
    UnknownEventType,
    new_event,
    parse_payload,
    register,
    registered_contracts,
    subject_for,
)
from libs.common.tracing import SpanKind, fallback_tracing, started_span

TERMS = ProgrammeTerms(
    tracks={"sygedagpenge": 120},
    fee_per_month_dkk=Decimal("3500"),
    total_cap_dkk=Decimal("5600000"),
    split=Split(investor_percent=Decimal("60"), provider_percent=Decimal("40")),
)


def payload() -> ProgrammeTermsPublishedV1:
    return ProgrammeTermsPublishedV1(
        programme_id="hedensted-2022",
        name="Hedensted",
        version=1,
        effective_from=date(2022, 9, 1),
        published_at=datetime(2022, 8, 1, tzinfo=UTC),
        terms=TERMS,
    )


def test_an_event_is_a_cloudevent_in_the_trace_of_its_request() -> None:
    with started_span(fallback_tracing(), "request", SpanKind.SERVER, None) as span:
        event = new_event(payload(), subject="programme/hedensted-2022")
    ids = span.get_span_context()
    raw = event.to_json_bytes()
    restored = CloudEvent.from_json_bytes(raw)
    assert restored == event
    assert restored.specversion == "1.0"
    assert restored.source == "/sib/intake"
    assert restored.type == "dk.sib.intake.programme.terms_published.v1"
    assert restored.traceparent == f"00-{ids.trace_id:032x}-{ids.span_id:016x}-{ids.trace_flags:02x}"
    assert restored.correlationid == f"{ids.trace_id:032x}"  # the alias: the trace id alone
    assert new_event(payload()).traceparent is None  # made outside any span: no trace to carry
    assert restored.time.tzinfo is not None
    assert parse_payload(restored) == payload()


def test_money_travels_as_exact_decimal_strings_never_floats() -> None:
    data = new_event(payload()).data
    assert data["terms"]["fee_per_month_dkk"] == "3500.00"
    assert data["terms"]["total_cap_dkk"] == "5600000.00"


def test_subject_follows_the_type() -> None:
    assert subject_for("dk.sib.intake.programme.terms_published.v1", "sib") == (
        "sib.intake.programme.terms_published.v1"
    )


def test_every_registered_contract_is_versioned() -> None:
    contracts = registered_contracts()
    assert ProgrammeTermsPublishedV1.event_type in contracts
    for event_type in contracts:
        assert event_type.startswith("dk.sib.") and event_type.rsplit(".", 1)[1].startswith("v")


def test_a_type_without_version_or_registered_twice_is_refused() -> None:
    class Unversioned(EventPayload):
        event_type = "dk.sib.intake.thing.happened"

    with pytest.raises(ValueError, match="must look like"):
        register(Unversioned)

    class Clash(EventPayload):
        event_type = ProgrammeTermsPublishedV1.event_type

    with pytest.raises(ValueError, match="registered twice"):
        register(Clash)


def test_an_unknown_type_cannot_be_parsed() -> None:
    event = CloudEvent(source="/sib/x", type="dk.sib.x.unknown.v9", data={})
    with pytest.raises(UnknownEventType):
        parse_payload(event)
