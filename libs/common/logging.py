"""Structured JSON logs (structlog), each line with the trace it belongs to.

A line written inside a span (a request, a consumed event) carries that span's ``trace_id`` and
``span_id`` (``libs/common/tracing.py``), so one trace id shows in every service's logs, in the events a
request caused and in the consumers that applied them.
"""

from __future__ import annotations

import logging
import sys
from typing import Any

import structlog

from libs.common.tracing import CORRELATION_HEADER, add_trace_ids
from libs.common.tracing import correlation_id as get_correlation_id

__all__ = ["CORRELATION_HEADER", "configure_logging", "get_correlation_id", "get_logger"]


def configure_logging(service: str, level: str = "INFO", json: bool = True) -> None:
    """Route structlog and the standard library (uvicorn, alembic) through one JSON renderer."""
    shared: list[Any] = [
        structlog.contextvars.merge_contextvars,
        add_trace_ids,
        structlog.stdlib.add_log_level,
        structlog.stdlib.add_logger_name,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        _add_service(service),
        structlog.processors.format_exc_info,
    ]
    renderer: Any = structlog.processors.JSONRenderer() if json else structlog.dev.ConsoleRenderer()
    structlog.configure(
        # filter_by_level first: a line below the level costs a level check, not the whole chain (info
        # lines built and then dropped at LOG_LEVEL=WARNING were a share of settlement's catch-up;
        # figures: docs/performance.md#first-session-2026-12-02).
        processors=[
            structlog.stdlib.filter_by_level,
            *shared,
            structlog.stdlib.ProcessorFormatter.wrap_for_formatter,
        ],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=False,
    )
    handler = logging.StreamHandler(sys.stdout)
    handler.setFormatter(
        structlog.stdlib.ProcessorFormatter(
            foreign_pre_chain=shared,
            processors=[structlog.stdlib.ProcessorFormatter.remove_processors_meta, renderer],
        )
    )
    root = logging.getLogger()
    root.handlers = [handler]
    root.setLevel(level.upper())
    # Our middleware logs each request without its query string; uvicorn's access log would not.
    for name in ("uvicorn", "uvicorn.error"):
        logging.getLogger(name).handlers = []
        logging.getLogger(name).propagate = True
    logging.getLogger("uvicorn.access").disabled = True
    logging.getLogger("nats").setLevel("WARNING")


def _add_service(service: str) -> Any:
    def processor(_logger: Any, _name: str, event_dict: dict[str, Any]) -> dict[str, Any]:
        event_dict.setdefault("service", service)
        return event_dict

    return processor


def get_logger(name: str) -> Any:
    return structlog.stdlib.get_logger(name)
