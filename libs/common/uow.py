"""The unit of work: one database transaction holding a state change and the events announcing it.

Use cases emit events with ``uow.emit(event)``; the events are written to the outbox table in the
same transaction as the state change, at ``commit()``. A transaction that rolls back leaves no event.
"""

from __future__ import annotations

from collections.abc import Sequence
from contextlib import AbstractAsyncContextManager, nullcontext
from types import TracebackType
from typing import Any, Self

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from libs.common.bulk import BulkStatement
from libs.common.clock import utcnow
from libs.common.db import Database, each_key_lookup, inbox_table, outbox_table
from libs.common.events import CloudEvent, PreparedEvent, subject_for

# Each wanted id looked up in the inbox's key by itself (LATERAL ... LIMIT 1 keeps PostgreSQL from
# turning it into a join): as a plain join, a planner whose statistics had not caught up with a
# fast-growing inbox read the consumer's whole inbox into a hash for every batch, a cost that grew with
# the inbox; this way it stays the same (figures: docs/performance.md#second-session-2026-12-02).
_HANDLED_AMONG_PG = each_key_lookup(
    "inbox", ["event_id"], columns="inbox.event_id", where="inbox.consumer = :consumer"
)


# Tuples in one executemany, not a parameter dict per row through SQLAlchemy's types: a batch of 5,000
# status records, and each fetched batch of a consumer, writes that many rows to each.
# COPY on PostgreSQL for a batch's events (from COPY_FROM_ROWS rows on).
_INSERT_OUTBOX = BulkStatement.insert(
    outbox_table, ("event_id", "subject", "event_type", "envelope", "created_at"), copy=True
)
_INSERT_INBOX = BulkStatement.insert(inbox_table, ("consumer", "event_id", "event_type", "processed_at"))


def _envelope(event: CloudEvent | PreparedEvent) -> str:
    return event.envelope if isinstance(event, PreparedEvent) else event.to_json_bytes().decode()


class UnitOfWork:
    """``read_only``: a transaction that only reads takes no turn in the SQLite writer queue and so never
    waits behind writers (nor they behind it); it may not commit."""

    def __init__(self, database: Database, *, read_only: bool = False) -> None:
        self._database = database
        self._read_only = read_only
        self._wrote_events = False
        self._events: list[CloudEvent | PreparedEvent] = []
        self._session: AsyncSession | None = None
        self._turn: AbstractAsyncContextManager[object] = nullcontext()

    @property
    def database(self) -> Database:
        return self._database

    @property
    def session(self) -> AsyncSession:
        if self._session is None:
            raise RuntimeError("UnitOfWork used outside 'async with'")
        return self._session

    async def __aenter__(self) -> Self:
        if self._read_only:
            self._turn = nullcontext()
            self._session = self._database.read_sessionmaker()
        else:
            self._turn = self._database.serialized()
            await self._turn.__aenter__()
            self._session = self._database.sessionmaker()
        self._events = []
        self._wrote_events = False
        # Whatever a use case wants to carry to the end of the transaction (e.g. what to recompute).
        self.scratch: dict[str, Any] = {}
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        # close() rolls back whatever was not committed, and unlike rollback() leaves what was
        # read usable after the block.
        try:
            await self.session.close()
        finally:
            self._session = None
            self._events = []
            await self._turn.__aexit__(exc_type, exc, tb)

    def emit(self, event: CloudEvent | PreparedEvent) -> None:
        self._events.append(event)

    async def commit(self) -> None:
        if self._read_only:
            raise RuntimeError("a read-only unit of work cannot commit")
        events, self._events = self._events, []
        await self.write_events(events)
        await self.session.commit()
        if self._wrote_events:
            self._wrote_events = False
            self._database.outbox_written.set()

    async def write_events(self, events: Sequence[CloudEvent | PreparedEvent]) -> None:
        """Write events into the outbox now, in the open transaction (``commit`` writes the emitted
        ones): for work that announces more than it should hold in memory until the commit."""
        if not events:
            return
        self._wrote_events = True
        prefix = self._database.settings.subject_prefix
        now = utcnow()
        await _INSERT_OUTBOX.run(
            self.session,
            [
                (event.id, subject_for(event.type, prefix), event.type, _envelope(event), now)
                for event in events
            ],
        )

    async def already_handled(self, consumer: str, event_id: str) -> bool:
        found = await self.session.execute(
            select(inbox_table.c.event_id).where(
                inbox_table.c.consumer == consumer, inbox_table.c.event_id == event_id
            )
        )
        return found.first() is not None

    async def handled_among(self, consumer: str, event_ids: list[str]) -> set[str]:
        """Which of these events the consumer has applied already (one query per 500 ids)."""
        found: set[str] = set()
        postgres = self._database.settings.is_postgres
        for start in range(0, len(event_ids), 500):
            chunk = event_ids[start : start + 500]
            if postgres:
                # The ids as an array, each looked up in the inbox's key (``_HANDLED_AMONG_PG``). With
                # ``event_id IN (...)``, a planner that had not yet analysed a fast-growing inbox scanned
                # every row of the consumer instead, most of a catch-up's time (figures:
                # docs/performance.md#earlier-rounds).
                rows = await self.session.execute(
                    _HANDLED_AMONG_PG, {"consumer": consumer, "event_id": chunk}
                )
            else:
                rows = await self.session.execute(
                    select(inbox_table.c.event_id).where(
                        inbox_table.c.consumer == consumer, inbox_table.c.event_id.in_(chunk)
                    )
                )
            found.update(row[0] for row in rows)
        return found

    async def mark_handled_many(self, consumer: str, events: list[CloudEvent]) -> None:
        if not events:
            return
        now = utcnow()
        await _INSERT_INBOX.run(self.session, [(consumer, e.id, e.type, now) for e in events])
