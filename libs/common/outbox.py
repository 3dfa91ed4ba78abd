"""The outbox relay: publishes committed outbox rows to JetStream, in commit order.

Each message carries ``Nats-Msg-Id`` = event id, so a row published twice (the relay crashed after
publishing and before marking it) is dropped by JetStream's duplicate window.
"""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass

from nats.js.api import PubAck
from sqlalchemy import select, update

from libs.common.clock import utcnow
from libs.common.db import Database, outbox_table
from libs.common.logging import get_logger
from libs.common.metrics import OUTBOX_DUPLICATES, OUTBOX_PENDING, OUTBOX_PUBLISHED
from libs.common.nats import MSG_ID_HEADER, NatsLink

log = get_logger(__name__)


@dataclass(frozen=True)
class OutboxRow:
    seq: int
    event_id: str
    subject: str
    event_type: str
    envelope: str


class OutboxRelay:
    def __init__(self, database: Database, link: NatsLink) -> None:
        self.database = database
        self.link = link
        self.settings = database.settings
        self._stopping = asyncio.Event()

    async def pending(self, limit: int | None = None) -> list[OutboxRow]:
        query = (
            select(
                outbox_table.c.seq,
                outbox_table.c.event_id,
                outbox_table.c.subject,
                outbox_table.c.event_type,
                outbox_table.c.envelope,
            )
            .where(outbox_table.c.published_at.is_(None))
            .order_by(outbox_table.c.seq)
            .limit(limit or self.settings.relay_batch_size)
        )
        # A read: it needs no turn of the SQLite writer.
        async with self.database.read_sessionmaker() as session:
            rows = (await session.execute(query)).all()
        return [OutboxRow(*row) for row in rows]

    async def publish_row(self, row: OutboxRow) -> PubAck:
        ack: PubAck = await self.link.js.publish(
            row.subject,
            row.envelope.encode(),
            stream=self.settings.nats_stream,
            headers={MSG_ID_HEADER: row.event_id},
        )
        if ack.duplicate:
            OUTBOX_DUPLICATES.labels(self.settings.service_name).inc()
        return ack

    async def mark_published(self, rows: list[OutboxRow]) -> None:
        if not rows:
            return
        async with self.database.serialized(), self.database.sessionmaker() as session:
            await session.execute(
                update(outbox_table)
                .where(outbox_table.c.seq.in_([row.seq for row in rows]))
                .values(published_at=utcnow(), publish_attempts=outbox_table.c.publish_attempts + 1)
            )
            await session.commit()
        for row in rows:
            OUTBOX_PUBLISHED.labels(self.settings.service_name, row.event_type).inc()

    async def publish_pending(self) -> int:
        """Publish one batch; returns how many rows were published."""
        rows = await self.pending()
        if not rows:
            OUTBOX_PENDING.labels(self.settings.service_name).set(0)
            return 0
        # Publishes go out on one connection in order, so awaiting their acks together keeps the
        # stream in commit order while not paying a round trip per event.
        await asyncio.gather(*(self.publish_row(row) for row in rows))
        await self.mark_published(rows)
        return len(rows)

    async def run(self) -> None:
        await self.link.wait_ready()
        log.info("outbox_relay_started")
        delay = self.settings.relay_poll_interval_seconds
        while not self._stopping.is_set():
            # Cleared before reading, so a commit during the pass wakes the next wait at once.
            self.database.outbox_written.clear()
            try:
                published = await self.publish_pending()
                delay = self.settings.relay_poll_interval_seconds
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # NATS or the database away for a moment: the rows wait
                log.warning("outbox_publish_failed", error=str(exc) or type(exc).__name__, retry_in=delay)
                published = 0
                await asyncio.sleep(delay)
                delay = min(delay * 2, 5.0)
                continue
            if published:
                continue
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.database.outbox_written.wait(), timeout=delay)
        log.info("outbox_relay_stopped")

    def stop(self) -> None:
        self._stopping.set()
        self.database.outbox_written.set()
