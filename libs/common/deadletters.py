"""Dead letters: events a consumer gave up on, kept in the ``<stream>_DLQ`` stream with the error.

A dead letter is the original message body (the CloudEvent, unchanged) with headers saying which
consumer failed, on which stream sequence, after how many deliveries, and why. Its id is its sequence
in the dead-letter stream. Re-driving runs it through the consumer's own path again (inbox, handler,
``after_batch``, one transaction); a re-driven letter that now succeeds is deleted from the stream,
one that fails again stays with the new error reported.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

from nats.js import JetStreamContext
from nats.js.errors import NotFoundError
from pydantic import ValidationError

from libs.common.db import Database
from libs.common.events import CloudEvent, UnknownEventType, origin_problem, parse_payload
from libs.common.logging import get_logger
from libs.common.nats import (
    DL_CONSUMER,
    DL_DELIVERIES,
    DL_ERROR,
    DL_EVENT_TYPE,
    DL_FAILED_AT,
    DL_SERVICE,
    DL_STREAM_SEQ,
    DL_SUBJECT,
    ConsumerSpec,
    EventConsumer,
    NatsLink,
    dead_letter_stream,
    describe_error,
)
from libs.common.settings import CommonSettings
from libs.common.tracing import Tracing
from libs.common.uow import UnitOfWork

log = get_logger(__name__)


@dataclass(frozen=True)
class DeadLetter:
    id: int
    consumer: str
    service: str
    # Where the letter is in the dead-letter stream: sib-dlq.<service>.<consumer>, which only that
    # service's NATS user may publish on.
    letter_subject: str
    subject: str
    stream_seq: int
    deliveries: int
    event_type: str
    event_id: str | None
    error: str
    failed_at: str
    event: dict[str, Any] | None

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def _filter(settings: CommonSettings, consumer: str | None) -> str:
    return f"{settings.subject_prefix}-dlq.{settings.service_name}.{consumer or '*'}"


def _letter(seq: int, letter_subject: str, data: bytes, headers: dict[str, str] | None) -> DeadLetter:
    headers = headers or {}
    try:
        event: dict[str, Any] | None = json.loads(data)
    except ValueError:
        event = None
    event_id = event.get("id") if isinstance(event, dict) else None
    return DeadLetter(
        id=seq,
        consumer=headers.get(DL_CONSUMER, ""),
        service=headers.get(DL_SERVICE, ""),
        letter_subject=letter_subject,
        subject=headers.get(DL_SUBJECT, ""),
        stream_seq=int(headers.get(DL_STREAM_SEQ, "0") or 0),
        deliveries=int(headers.get(DL_DELIVERIES, "0") or 0),
        event_type=headers.get(DL_EVENT_TYPE, "unknown"),
        event_id=str(event_id) if event_id is not None else None,
        error=headers.get(DL_ERROR, ""),
        failed_at=headers.get(DL_FAILED_AT, ""),
        event=event if isinstance(event, dict) else None,
    )


async def list_dead_letters(
    js: JetStreamContext,
    settings: CommonSettings,
    consumer: str | None = None,
    after: int = 0,
    limit: int = 100,
) -> list[DeadLetter]:
    """This service's dead letters in the order they failed, from sequence ``after + 1`` on."""
    stream = dead_letter_stream(settings)
    letters: list[DeadLetter] = []
    seq = after + 1
    while len(letters) < limit:
        try:
            raw = await js.get_msg(stream, seq=seq, subject=_filter(settings, consumer), next=True)
        except NotFoundError:
            break
        assert raw.seq is not None
        letters.append(_letter(raw.seq, raw.subject or "", raw.data or b"", raw.headers))
        seq = raw.seq + 1
    return letters


def foreign_letter(settings: CommonSettings, letter: DeadLetter) -> str | None:
    """Why a letter is not one this service's consumer wrote (None when it is): it must sit on this
    service's own dead-letter subject, say so in its header, and hold an event that may be on the
    subject it was first delivered from."""
    own = f"{settings.subject_prefix}-dlq.{settings.service_name}.{letter.consumer}"
    if letter.letter_subject != own or letter.service != settings.service_name:
        return f"not written by {settings.service_name}'s consumer {letter.consumer or '(none)'}"
    if letter.event is None:
        return None  # not JSON: fails below with its own reason
    try:
        event = CloudEvent.model_validate(letter.event)
    except ValidationError:
        return None
    return origin_problem(letter.subject, event, settings.subject_prefix)


@dataclass(frozen=True)
class RedriveResult:
    id: int
    consumer: str
    event_id: str | None
    outcome: str  # applied, duplicate, failed, unknown_consumer, refused
    error: str | None = None


async def redrive(
    database: Database,
    js: JetStreamContext,
    specs: Sequence[ConsumerSpec],
    ids: Sequence[int] | None = None,
    consumer: str | None = None,
    tracing: Tracing | None = None,
) -> list[RedriveResult]:
    """Apply dead letters again through their consumer (each in a consumer span continuing the trace
    of its envelope); delete each one that now succeeds."""
    settings = database.settings
    by_name = {spec.name: spec for spec in specs}
    link = NatsLink.around(js, settings)
    runners: dict[str, EventConsumer] = {}
    results: list[RedriveResult] = []
    letters = await list_dead_letters(js, settings, consumer=consumer, limit=1_000_000)
    wanted = set(ids) if ids else None
    for letter in letters:
        if wanted is not None and letter.id not in wanted:
            continue
        refusal = foreign_letter(settings, letter)
        if refusal is not None:
            log.warning("dead_letter_refused", dead_letter=letter.id, reason=refusal)
            results.append(RedriveResult(letter.id, letter.consumer, letter.event_id, "refused", refusal))
            continue
        spec = by_name.get(letter.consumer)
        if spec is None:
            results.append(RedriveResult(letter.id, letter.consumer, letter.event_id, "unknown_consumer"))
            continue
        runner = runners.setdefault(spec.name, EventConsumer(spec, database, link, tracing))
        try:
            if letter.event is None:
                raise ValueError("the dead letter's body is not JSON")
            event = CloudEvent.model_validate(letter.event)
            payload = parse_payload(event)
            async with UnitOfWork(database) as uow:
                (outcome,) = await runner.apply_events(uow, [(event, payload)])
                await uow.commit()
        except (ValidationError, UnknownEventType, ValueError) as exc:
            results.append(
                RedriveResult(letter.id, letter.consumer, letter.event_id, "failed", describe_error(exc))
            )
            continue
        except Exception as exc:
            log.warning("redrive_failed", dead_letter=letter.id, error=describe_error(exc))
            results.append(
                RedriveResult(letter.id, letter.consumer, letter.event_id, "failed", describe_error(exc))
            )
            continue
        await js.delete_msg(dead_letter_stream(settings), letter.id)
        log.info("dead_letter_redriven", dead_letter=letter.id, outcome=outcome.value)
        results.append(RedriveResult(letter.id, letter.consumer, letter.event_id, outcome.value))
    return results
