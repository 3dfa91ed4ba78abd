"""Gap repair: a participant whose recording sequence has a hole that the missing event did not fill
within the grace period is resynced from progression's REST API (the source of the records).

Each status.recorded event carries the participant's recording_seq (1, 2, 3, ...). An event lost
on the way (say, deleted from the stream, or published before a stream was restored from an old
backup) leaves a hole that no redelivery will fill; reading the participant's records from
progression does. A hole at the end of the sequence (the last records lost) cannot be seen this way;
a rebuild or the next record for that participant finds it.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine
from datetime import date, datetime, timedelta
from typing import Any, Protocol

import httpx
from sqlalchemy import select

from libs.common.app import Runtime
from libs.common.clock import utcnow
from libs.common.db import Database
from libs.common.errors import ServiceUnavailable
from libs.common.logging import get_logger
from libs.common.metrics import GAP_RESYNCS
from libs.common.oidc import OidcProvider, ServiceIdentity
from libs.common.tracing import SpanKind, Tracing, fallback_tracing, inject, started_span
from libs.common.uow import UnitOfWork
from services.settlement.models import SequenceGapRow
from services.settlement.repository.erasure import ErasureRepository
from services.settlement.services.facts import (
    FactsBatch,
    insert_queued_records,
    queue_record,
    recompute_touched,
)
from services.settlement.settings import SettlementSettings

log = get_logger(__name__)


class ProgressionRecords:
    """Reads a participant's status records from progression with settlement's own identity (role
    settlement-service, which may read status records and nothing else)."""

    def __init__(
        self, settings: SettlementSettings, transport: httpx.AsyncBaseTransport | None = None
    ) -> None:
        self.settings = settings
        self.client = httpx.AsyncClient(base_url=settings.progression_url, timeout=10.0, transport=transport)
        self.provider = OidcProvider(settings)
        self.identity = ServiceIdentity(self.provider)

    async def records(self, participant_id: str) -> list[dict[str, Any]]:
        response = await self.client.get(
            f"/v1/participants/{participant_id}/status-records",
            headers=inject(await self.identity.headers()),  # the repair's trace goes on into progression
        )
        response.raise_for_status()
        items: list[dict[str, Any]] = response.json()["items"]
        return items

    async def close(self) -> None:
        await self.client.aclose()
        await self.provider.close()


async def due_gaps(database: Database, limit: int = 100) -> list[str]:
    async with UnitOfWork(database) as uow:
        query = (
            select(SequenceGapRow.participant_id)
            .where(SequenceGapRow.next_attempt_at <= utcnow())
            .order_by(SequenceGapRow.next_attempt_at)
            .limit(limit)
        )
        return list((await uow.session.scalars(query)).all())


class RecordSource(Protocol):
    async def records(self, participant_id: str) -> list[dict[str, Any]]: ...


async def _later(database: Database, participant_id: str) -> None:
    """Try this participant's gap again later (backing off), so the others' repairs go first."""
    async with UnitOfWork(database) as uow:
        gap = await uow.session.get(SequenceGapRow, participant_id)
        if gap is not None:
            gap.attempts += 1
            gap.next_attempt_at = utcnow() + timedelta(seconds=min(2**gap.attempts, 300))
        await uow.commit()


async def repair(database: Database, source: RecordSource, participant_id: str) -> str:
    """Resync one participant; returns the outcome (repaired, closed, retry)."""
    try:
        items = await source.records(participant_id)
    except (httpx.HTTPError, KeyError, ValueError, ServiceUnavailable) as exc:
        await _later(database, participant_id)
        log.warning("gap_resync_failed", participant_id=participant_id, error=type(exc).__name__)
        GAP_RESYNCS.labels("settlement", "retry").inc()
        return "retry"
    async with UnitOfWork(database) as uow:
        # An erasure of the participant meanwhile: it runs before or after this, never between.
        await ErasureRepository(uow.session).lock(participant_id)
        batch = FactsBatch()
        for item in items:
            queue_record(
                batch,
                {
                    "record_id": item["record_id"],
                    "participant_id": item["participant_id"],
                    "programme_id": item["programme_id"],
                    "code": item["code"],
                    "valid_from": _date(item["valid_from"]),
                    "valid_to": _date(item["valid_to"]) if item["valid_to"] else None,
                    "recording_seq": int(item["recording_seq"]),
                    "recorded_at": _datetime(item["recorded_at"]),
                },
            )
        added = await insert_queued_records(uow, batch)
        # Recompute the months the added records touch and re-check the sequence (closing the gap row).
        await recompute_touched(uow, batch)
        gap = await uow.session.get(SequenceGapRow, participant_id)
        if gap is not None:  # still a hole: progression does not have the record either; try later
            gap.attempts += 1
            gap.next_attempt_at = utcnow() + timedelta(seconds=min(2**gap.attempts, 300))
        await uow.commit()
    outcome = "repaired" if added else "closed"
    GAP_RESYNCS.labels("settlement", outcome).inc()
    log.info("gap_resynced", participant_id=participant_id, records_added=added)
    return outcome


async def repair_due(
    database: Database,
    source: RecordSource,
    stopping: asyncio.Event | None = None,
    tracing: Tracing | None = None,
) -> int:
    """One round: every due gap in turn, each repair a trace of its own. A participant whose repair
    fails for an unforeseen reason (a record settlement cannot apply, say) is tried again later, backing
    off; it never holds up the others' repairs. Returns how many were attempted."""
    attempted = 0
    tracing = tracing or fallback_tracing()
    for participant_id in await due_gaps(database):
        if stopping is not None and stopping.is_set():
            break
        attempted += 1
        try:
            with started_span(tracing, "gap repair", SpanKind.INTERNAL, None):
                await repair(database, source, participant_id)
        except Exception as exc:
            log.warning("gap_repair_failed", participant_id=participant_id, error=type(exc).__name__)
            GAP_RESYNCS.labels("settlement", "failed").inc()
            await _later(database, participant_id)
    return attempted


def gap_repair_job(
    transport: httpx.AsyncBaseTransport | None = None,
) -> Callable[[Runtime], Coroutine[Any, Any, None]]:
    async def gap_repair(runtime: Runtime) -> None:
        await run_gap_repair(runtime, transport)

    return gap_repair


async def run_gap_repair(runtime: Runtime, transport: httpx.AsyncBaseTransport | None = None) -> None:
    """Background job: repair due gaps until the service stops."""
    settings = runtime.settings
    assert isinstance(settings, SettlementSettings)
    source = ProgressionRecords(settings, transport)
    try:
        while not runtime.stopping.is_set():
            try:
                await repair_due(runtime.database, source, runtime.stopping, runtime.tracing)
            except Exception as exc:  # database briefly away: try again on the next round
                log.warning("gap_repair_round_failed", error=type(exc).__name__)
            try:
                await asyncio.wait_for(runtime.stopping.wait(), timeout=settings.gap_check_interval_seconds)
            except TimeoutError:
                pass
    finally:
        await source.close()


def _date(text: str) -> date:
    return date.fromisoformat(text)


def _datetime(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))
