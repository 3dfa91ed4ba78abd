"""Structured JSON logs (structlog) with a correlation id that follows a request into its events.

The correlation id lives in structlog's context variables: the HTTP middleware binds it from the
``X-Correlation-ID`` header (or a new one), ``new_event`` copies it into the CloudEvent, and a
consumer binds it again from the event before handling, so one id shows in every service's logs.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import structlog

from libs.common.ids import uuid4_str

CORRELATION_HEADER = "X-Correlation-ID"
_CORRELATION_KEY = "correlation_id"
_MAX_CORRELATION_ID = 128


def get_correlation_id() -> str | None:
    value = structlog.contextvars.get_contextvars().get(_CORRELATION_KEY)
    return str(value) if value is not None else None


def clean_correlation_id(value: str | None) -> str:
    """Accept a caller's id if it is short and printable; otherwise make a new one."""
    if value and len(value) <= _MAX_CORRELATION_ID and value.isprintable() and value.isascii():
        return value
    return uuid4_str()


@contextmanager
def correlation_scope(correlation_id: str | None, **extra: Any) -> Iterator[str]:
    cid = clean_correlation_id(correlation_id)
    tokens = structlog.contextvars.bind_contextvars(**{_CORRELATION_KEY: cid}, **extra)
    try:
        yield cid
    finally:
        structlog.contextvars.reset_contextvars(**tokens)


def configure_logging(service: str, level: str = "INFO", json: bool = True) -> None:
    """Route structlog and the standard library (uvicorn, alembic) through one JSON renderer."""
    shared: list[Any] = [
        structlog.contextvars.merge_contextvars,
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
        # figures: docs/performance.md, "first session").
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
