"""One trace from a client's request to the last consumer: the W3C traceparent a client sends is continued
by the answer (X-Correlation-ID), the request's log line, its events, the consumer that applies them (its
log lines) and the events that consumer makes (settlement's months.recalculated), whether the consumer
applies an event on its own or in a batch."""

from __future__ import annotations

import secrets
from datetime import UTC, date, datetime
from typing import Any

import pytest

from libs.common.contracts import STATUS_CODES, StatusCode, StatusRecordedV1
from libs.common.events import CloudEvent, new_event
from libs.common.ids import uuid7_str
from libs.common.tracing import SpanContext
from libs.common.uow import UnitOfWork
from tests.integration.conftest import Trio, eventually, outbox_events
from tests.integration.test_settlement import JOBCENTER, PROGRAMME, enrol, status, wait_for_fee

RECALCULATED = "dk.sib.settlement.months.recalculated.v1"


def trace_of(event: CloudEvent) -> str | None:
    return event.traceparent[3:35] if event.traceparent else None


def lines(caplog: pytest.LogCaptureFixture, name: str) -> list[dict[str, Any]]:
    """The structured log lines (structlog's event dicts) called ``name``."""
    return [r.msg for r in caplog.records if isinstance(r.msg, dict) and r.msg.get("event") == name]


async def test_a_status_post_is_one_trace_from_its_answer_to_settlements_months(
    trio: Trio, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level("INFO")
    pid = await enrol(trio, "070761-4285")
    await status(trio, pid, "sygedagpenge", "2024-03-15", "2024-04-30")
    await wait_for_fee(trio, pid, "2024-05", "0.00", provisional=True)
    trace_id, caller_span = secrets.token_hex(16), secrets.token_hex(8)
    response = await trio.progression.post(
        "/v1/status-records",
        json={"participant_id": pid, "code": "employed", "valid_from": "2024-05-01"},
        headers=JOBCENTER | {"traceparent": f"00-{trace_id}-{caller_span}-01"},
    )
    assert response.status_code == 201, response.text
    assert response.headers["X-Correlation-ID"] == trace_id
    [logged] = [r for r in lines(caplog, "request") if r.get("route") == "/v1/status-records"][-1:]
    assert logged["trace_id"] == trace_id and logged["span_id"] != caller_span

    [recorded] = [e for e in await outbox_events(trio.progression) if trace_of(e) == trace_id]
    assert recorded.type == StatusRecordedV1.event_type and recorded.correlationid == trace_id

    async def recalculated() -> list[CloudEvent]:
        return [
            e
            for e in await outbox_events(trio.settlement)
            if e.type == RECALCULATED and any(c["month"] == "2024-05" for c in e.data["changes"])
        ]

    async def announced() -> bool:
        return any(trace_of(e) == trace_id for e in await recalculated())

    await eventually(announced, timeout=15)
    [months] = [e for e in await recalculated() if trace_of(e) == trace_id]
    assert months.subject == f"participant/{pid}" and months.correlationid == trace_id
    # A child of settlement's consumer span, not of the request's or the status event's span.
    assert months.traceparent not in (recorded.traceparent, f"00-{trace_id}-{caller_span}-01")
    assert months.traceparent is not None and months.traceparent.endswith("-01")  # still sampled
    handled = [
        r for r in lines(caplog, "event_handled") if r.get("event_type") == StatusRecordedV1.event_type
    ]
    assert any(r.get("trace_id") == trace_id for r in handled), handled


async def test_each_participant_of_a_consumers_batch_is_announced_in_the_trace_of_its_own_event(
    trio: Trio,
) -> None:
    """Settlement applies a fetched batch in one transaction and recomputes each participant once at
    its end, outside any one event's span: each participant's months.recalculated still continues the
    trace of the event that touched it."""
    pids = [await enrol(trio, cpr) for cpr in ("070761-4285", "010190-1234")]
    for pid in pids:
        await wait_for_fee(trio, pid, "2024-05", "0.00", provisional=True)
    runtime = trio.settlement.app.state.runtime
    [facts] = [c for c in runtime.consumers if c.durable == "settlement-facts"]
    causes = {pid: SpanContext(int(secrets.token_hex(16), 16), 0xFACE, is_remote=False) for pid in pids}
    batch = []
    for pid in pids:
        payload = StatusRecordedV1(
            record_id=uuid7_str(),
            participant_id=pid,
            programme_id=PROGRAMME,
            code=StatusCode.employed,
            category=STATUS_CODES[StatusCode.employed][1],
            valid_from=date(2024, 5, 1),
            valid_to=None,
            recording_seq=1,
            recorded_at=datetime.now(UTC),
        )
        batch.append((new_event(payload, subject=f"participant/{pid}", trace=causes[pid]), payload))
    async with UnitOfWork(runtime.database) as uow:
        await facts.apply_events(uow, batch)
        await uow.commit()
    announced = {
        e.subject: e
        for e in await outbox_events(trio.settlement)
        if e.type == RECALCULATED and any(c["month"] == "2024-05" for c in e.data["changes"])
    }
    for pid in pids:
        event = announced[f"participant/{pid}"]
        assert trace_of(event) == f"{causes[pid].trace_id:032x}", (pid, event.traceparent)
