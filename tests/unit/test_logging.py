from __future__ import annotations

import json
from collections.abc import MutableMapping
from typing import Any

import pytest
import structlog

from libs.common.logging import configure_logging, get_logger
from libs.common.tracing import SpanKind, fallback_tracing, started_span


def test_logs_are_json_lines_with_service_and_the_trace_of_their_span(
    capsys: pytest.CaptureFixture[str],
) -> None:
    configure_logging("testsvc", "INFO", json=True)
    with started_span(fallback_tracing(), "work", SpanKind.INTERNAL, None) as span:
        get_logger("t").info("something_happened", participant_id="p-1")
    get_logger("t").info("outside")
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines() if line.startswith("{")]
    inside = next(r for r in lines if r["event"] == "something_happened")
    outside = next(r for r in lines if r["event"] == "outside")
    ids = span.get_span_context()
    assert (inside["trace_id"], inside["span_id"]) == (f"{ids.trace_id:032x}", f"{ids.span_id:016x}")
    assert inside["service"] == "testsvc"
    assert inside["participant_id"] == "p-1"
    assert inside["timestamp"].endswith("Z")
    assert "trace_id" not in outside and "span_id" not in outside


def test_a_line_below_the_level_is_dropped_before_the_processors_run(
    capsys: pytest.CaptureFixture[str],
) -> None:
    configure_logging("testsvc", "WARNING", json=True)
    try:
        # A processor right after the first one: it sees only the lines the level lets through.
        seen: list[str] = []

        def spy(_logger: Any, _name: str, event_dict: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
            seen.append(str(event_dict["event"]))
            return event_dict

        processors = structlog.get_config()["processors"]
        structlog.configure(processors=[processors[0], spy, *processors[1:]])
        get_logger("t").info("dropped")
        get_logger("t").warning("kept")
        lines = [json.loads(line) for line in capsys.readouterr().out.splitlines() if line.startswith("{")]
        assert [r["event"] for r in lines] == ["kept"]
        assert seen == ["kept"]
    finally:
        configure_logging("testsvc", "INFO", json=True)
