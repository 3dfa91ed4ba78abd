"""The outbox relay: publishes committed outbox rows to JetStream, in commit order.

Each message carries ``Nats-Msg-Id`` = event id, so a row published twice (the relay crashed after
publishing and before marking it) is dropped by JetStream's duplicate window, and the event's W3C
``traceparent`` (and ``tracestate``), so a consumer continues the trace without opening the envelope.

Marking a pass published: on PostgreSQL each row's ``published_at``; on SQLite, where rows commit in
``seq`` order, the one cursor ``outbox_cursor.published_through`` moves past the pass (libs/common/db.py
says why). ``unpublished()`` is the rows still to publish, either way.

A published row is kept ``outbox_retention_hours`` after it was written (to look into what a service
sent recently), then the relay deletes it: the stream keeps every event for good, so the outbox need
not. Unpublished rows are never deleted, however old.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections import Counter
from collections.abc import Collection
from dataclasses import dataclass
from datetime import timedelta

from nats.aio.client import Client as NatsClient
from nats.aio.msg import Msg
from nats.js.api import Header, PubAck
from nats.js.errors import APIError, NoStreamResponseError
from sqlalchemy import (
    BigInteger,
    ColumnElement,
    CursorResult,
    Integer,
    and_,
    any_,
    bindparam,
    delete,
    func,
    not_,
    select,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from libs.common.clock import utcnow
from libs.common.db import Database, outbox_cursor_table, outbox_table
from libs.common.events import trace_headers
from libs.common.ids import canonical_uuid
from libs.common.logging import get_logger
from libs.common.metrics import OUTBOX_DUPLICATES, OUTBOX_PENDING, OUTBOX_PRUNED, OUTBOX_PUBLISHED
from libs.common.nats import MSG_ID_HEADER, NatsLink

log = get_logger(__name__)
EXPECTED_STREAM_HEADER = Header.EXPECTED_STREAM.value


@dataclass(frozen=True)
class OutboxRow:
    seq: int
    event_id: str
    subject: str
    event_type: str
    envelope: str


def _unpublished(through: ColumnElement[int]) -> ColumnElement[bool]:
    """The rows still to publish, given the relay's cursor: no ``published_at`` and above the cursor
    (libs/common/db.py, ``outbox_cursor_table``). The relay passes the cursor it holds; others read it."""
    return and_(outbox_table.c.published_at.is_(None), outbox_table.c.seq > through)


# Built once: the relay runs these for every pass, and building them was a large share of its CPU when
# passes are an event or two (single POSTs; figures: docs/performance.md#from-the-codes-comments).
_PENDING = (
    select(
        outbox_table.c.seq,
        outbox_table.c.event_id,
        outbox_table.c.subject,
        outbox_table.c.event_type,
        outbox_table.c.envelope,
    )
    .where(_unpublished(bindparam("published_through", type_=BigInteger)))
    .order_by(outbox_table.c.seq)
    .limit(bindparam("limit", type_=Integer))
)
# PostgreSQL marks each row published (SQLite moves the cursor instead: outbox_cursor_table). The
# pass's sequence numbers as one array. Rendering ``IN`` with a bind parameter (and a
# cast) per row was a share of a batch's CPU (figures: docs/performance.md#seventh-session-2026-12-03);
# ``= ANY(array)`` is one parameter, and it is planned as a lookup of each row by the key
# (tests/integration/test_query_plans.py).
_MARK_PUBLISHED_PG = (
    update(outbox_table)
    .where(outbox_table.c.seq == any_(bindparam("seqs", type_=postgresql.ARRAY(BigInteger))))
    .values(published_at=bindparam("now"), publish_attempts=outbox_table.c.publish_attempts + 1)
)
# Pruning walks the key from its start, where the oldest rows are: the first row written since the
# cut-off bounds it, and rows below that go in chunks, unpublished ones left alone. So a pass reads
# the rows it deletes, not the rows it keeps (a scan for "published before the cut-off" would read
# every kept row each time, or need an index that every publish would have to update).
_FIRST_KEPT = (
    select(outbox_table.c.seq)
    .where(outbox_table.c.created_at >= bindparam("cutoff"))
    .order_by(outbox_table.c.seq)
    .limit(1)
)
_PRUNE = delete(outbox_table).where(
    outbox_table.c.seq.in_(
        select(outbox_table.c.seq)
        .where(
            outbox_table.c.seq < bindparam("below"),
            outbox_table.c.seq != bindparam("keep", type_=BigInteger),
            not_(_unpublished(bindparam("published_through", type_=BigInteger))),
        )
        .order_by(outbox_table.c.seq)
        .limit(bindparam("chunk", type_=Integer))
        .scalar_subquery()
    )
)
RELAY = "relay"  # the key of the cursor's one row
_PUBLISHED_THROUGH = select(outbox_cursor_table.c.published_through).where(
    outbox_cursor_table.c.relay == RELAY
)
_MOVE_CURSOR = (
    sqlite.insert(outbox_cursor_table)
    .values(relay=RELAY, published_through=bindparam("through", type_=BigInteger))
    .on_conflict_do_update(
        index_elements=[outbox_cursor_table.c.relay],
        set_={"published_through": bindparam("through", type_=BigInteger)},
    )
)


def unpublished() -> ColumnElement[bool]:
    """The outbox rows still to publish, on either database, with the cursor read in the statement
    (for tools and tests; no cursor row yet counts as 0)."""
    return _unpublished(func.coalesce(_PUBLISHED_THROUGH.scalar_subquery(), 0))


class OutboxRelay:
    def __init__(self, database: Database, link: NatsLink) -> None:
        self.database = database
        self.link = link
        self.settings = database.settings
        self._stopping = asyncio.Event()
        self._acks = _PassAcks(self.settings.service_name)
        self._next_prune = 0.0  # time.monotonic(): due at the first pass
        self._prune_below: int | None = None  # the bound of the look in progress
        # The cursor as last read or moved (None: to read before the next pass). Only this relay moves
        # it, so it is read once, and again after a failed pass.
        self._published_through: int | None = None

    PRUNE_CHUNK = 5000  # rows deleted per transaction: a short turn of the writer each

    async def prune_bound(self) -> int:
        """The sequence number of the first row written since the cut-off: rows below it may go."""
        cutoff = utcnow() - timedelta(hours=self.settings.outbox_retention_hours)
        async with self.database.read_sessionmaker() as session:
            first_kept = (await session.execute(_FIRST_KEPT, {"cutoff": cutoff})).scalar()
            if first_kept is None:
                # No row written since the cut-off: every row held now may go, but not one written
                # after this look (the bound is kept for several passes).
                highest = (await session.execute(select(func.max(outbox_table.c.seq)))).scalar()
                return 0 if highest is None else int(highest) + 1
        return int(first_kept)

    async def prune(self, chunk: int | None = None, below: int | None = None) -> int:
        """Delete one chunk of the published rows written more than ``outbox_retention_hours`` ago
        (those below ``below``, by default ``prune_bound()``); returns how many. 0 keeps every row
        (``outbox_retention_hours = 0``)."""
        if not self.settings.outbox_retention_hours:
            return 0
        bound = await self.prune_bound() if below is None else below
        through = await self.published_through()
        async with self.database.serialized(), self.database.sessionmaker() as session:
            result = await session.execute(
                _PRUNE,
                {
                    "below": bound,
                    "chunk": chunk or self.PRUNE_CHUNK,
                    "published_through": through,
                    # SQLite: the row at the cursor stays. SQLite numbers a new row max(seq) + 1, and with
                    # every row up to the cursor gone that number would be one the cursor has passed.
                    "keep": -1 if self.settings.is_postgres else through,
                },
            )
            await session.commit()
        deleted = int(result.rowcount) if isinstance(result, CursorResult) else 0
        if deleted:
            OUTBOX_PRUNED.labels(self.settings.service_name).inc(deleted)
            log.info("outbox_pruned", rows=deleted)
        return deleted

    async def _prune_when_due(self) -> None:
        """A chunk at a time between passes: a backlog of old rows goes a chunk per pass, all below
        the bound found when the look began (found once: finding it reads the old rows still held,
        so once per chunk would make a large backlog quadratic), and then the next look is
        ``outbox_prune_interval_seconds`` away. A failure waits for that too."""
        if not self.settings.outbox_retention_hours or time.monotonic() < self._next_prune:
            return
        try:
            if self._prune_below is None:
                self._prune_below = await self.prune_bound()
            deleted = await self.prune(below=self._prune_below)
        except Exception as exc:  # the database away for a moment: the rows wait for the next look
            log.warning("outbox_prune_failed", error=str(exc) or type(exc).__name__)
            deleted = 0
        if deleted < self.PRUNE_CHUNK:
            self._prune_below = None
            self._next_prune = time.monotonic() + self.settings.outbox_prune_interval_seconds

    async def published_through(self) -> int:
        """The cursor: every row up to it is published (0 before the first pass on SQLite)."""
        if self._published_through is None:
            async with self.database.read_sessionmaker() as session:
                self._published_through = int((await session.execute(_PUBLISHED_THROUGH)).scalar() or 0)
        return self._published_through

    async def pending(self, limit: int | None = None) -> list[OutboxRow]:
        # A read: it needs no turn of the SQLite writer.
        through = await self.published_through()
        async with self.database.read_sessionmaker() as session:
            rows = (
                await session.execute(
                    _PENDING,
                    {"limit": limit or self.settings.relay_batch_size, "published_through": through},
                )
            ).all()
        return [OutboxRow(*row) for row in rows]

    async def publish_row(self, row: OutboxRow) -> PubAck:
        ack: PubAck = await self.link.js.publish(
            row.subject,
            row.envelope.encode(),
            stream=self.settings.nats_stream,
            headers={MSG_ID_HEADER: row.event_id, **trace_headers(row.envelope)},
        )
        if ack.duplicate:
            OUTBOX_DUPLICATES.labels(self.settings.service_name).inc()
        return ack

    async def mark_published(self, rows: list[OutboxRow]) -> None:
        """``rows``: a pass as ``pending`` returned it (the first rows still to publish, in order)."""
        if not rows:
            return
        async with self.database.serialized(), self.database.sessionmaker() as session:
            if self.settings.is_postgres:
                await session.execute(
                    _MARK_PUBLISHED_PG, {"seqs": [row.seq for row in rows], "now": utcnow()}
                )
            else:
                # The pass is the first rows above the cursor, all of them published now: the cursor
                # moves to the last (libs/common/db.py, outbox_cursor_table).
                await session.execute(_MOVE_CURSOR, {"through": rows[-1].seq})
            await session.commit()
        if not self.settings.is_postgres:
            self._published_through = rows[-1].seq
        # One increment per event type, not per row: a label lookup per row was a share of a batch's CPU
        # (figures: docs/performance.md#third-session-2026-12-02).
        for event_type, count in Counter(row.event_type for row in rows).items():
            OUTBOX_PUBLISHED.labels(self.settings.service_name, event_type).inc(count)

    async def publish_pending(self) -> int:
        """Publish one batch; returns how many rows were published."""
        rows = await self.pending()
        if not rows:
            OUTBOX_PENDING.labels(self.settings.service_name).set(0)
            return 0
        client = self.link.client
        if client is None:  # a link around a JetStream context connected elsewhere (operator tools)
            await asyncio.gather(*(self.publish_row(row) for row in rows))
        else:
            await self._acks.publish(client, rows, self.settings.nats_stream)
        await self.mark_published(rows)
        return len(rows)

    async def run(self) -> None:
        await self.link.wait_ready()
        log.info("outbox_relay_started")
        delay = self.settings.relay_poll_interval_seconds
        while not self._stopping.is_set():
            # Cleared before reading, so a commit during the pass wakes the next wait at once.
            self.database.outbox_written.clear()
            await self._prune_when_due()
            try:
                published = await self.publish_pending()
                delay = self.settings.relay_poll_interval_seconds
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # NATS or the database away for a moment: the rows wait
                log.warning("outbox_publish_failed", error=str(exc) or type(exc).__name__, retry_in=delay)
                self._published_through = None  # read again: the pass may have stopped anywhere
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


class _PassAcks:
    """Publishes a pass of rows with one reply subscription for all their JetStream acks.

    ``js.publish`` makes a request per message (an inbox, a timer and a task each), far more CPU per
    event than a plain publish whose ack comes back to a subject of the pass's own (figures:
    docs/performance.md#from-the-codes-comments). The messages go out in order on one connection,
    so the stream keeps commit order; a pass counts only when every message has its ack, else nothing
    of it is marked published and the next pass sends it again (the Nats-Msg-Id makes the repeat a
    duplicate)."""

    ACK_TIMEOUT_SECONDS = 10.0

    def __init__(self, service: str) -> None:
        self.service = service
        self._client: NatsClient | None = None
        self._prefix = ""
        self._pass = 0
        self._acks: dict[int, Msg] = {}
        self._expected = 0
        self._complete = asyncio.Event()
        self._one_pass_at_a_time = asyncio.Lock()

    async def _subscribe(self, client: NatsClient) -> None:
        if self._client is client:
            return
        self._prefix = client.new_inbox()
        await client.subscribe(f"{self._prefix}.*.*", cb=self._on_ack)
        self._client = client

    async def _on_ack(self, msg: Msg) -> None:
        _, pass_id, index = msg.subject.rsplit(".", 2)
        if int(pass_id) != self._pass:
            return  # a late ack of a pass given up on
        self._acks[int(index)] = msg
        if len(self._acks) >= self._expected:
            self._complete.set()

    async def publish(self, client: NatsClient, rows: list[OutboxRow], stream: str) -> None:
        async with self._one_pass_at_a_time:
            await self._publish(client, rows, stream)

    async def _publish(self, client: NatsClient, rows: list[OutboxRow], stream: str) -> None:
        await self._subscribe(client)
        self._pass += 1
        self._acks, self._expected = {}, len(rows)
        self._complete.clear()
        for index, row in enumerate(rows):
            await client.publish(
                row.subject,
                row.envelope.encode(),
                reply=f"{self._prefix}.{self._pass}.{index}",
                headers={
                    MSG_ID_HEADER: row.event_id,
                    EXPECTED_STREAM_HEADER: stream,
                    **trace_headers(row.envelope),
                },
            )
        # No flush: the client's writer sends the messages, and waiting for their acks waits for that;
        # a flush is a PING and its PONG more per pass, felt under single POSTs, whose passes are an
        # event or two (figures: docs/performance.md#from-the-codes-comments).
        await asyncio.wait_for(self._complete.wait(), timeout=self.ACK_TIMEOUT_SECONDS)
        for index in range(len(rows)):
            data = self._acks[index].data
            if not data:  # a status-only reply: no stream took the subject (503 no responders)
                raise NoStreamResponseError
            # A plain ack ({"stream":"SIB","seq":n}) needs no parsing: only one naming an error or a
            # duplicate is read (parsing every ack was a share of a batch's CPU; figures:
            # docs/performance.md#seventh-session-2026-12-03).
            if b'"error"' not in data and b'"duplicate"' not in data:
                continue
            response = json.loads(data)
            if "error" in response:
                raise APIError.from_error(response["error"])
            if response.get("duplicate"):
                OUTBOX_DUPLICATES.labels(self.service).inc()


# What an erased event's published row keeps: its sequence, id, subject and type, not its content.
ERASED_ENVELOPE = '{"erased":true}'


async def erase_from_outbox(
    session: AsyncSession, participant_id: str, keep_types: Collection[str] = ()
) -> int:
    """An erasure's part of the outbox: every row whose event names ``participant_id`` (but the
    ``keep_types``) loses it. A row still to publish is deleted, so it never leaves; a published one
    keeps its row with the content replaced by ``ERASED_ENVELOPE``, because deleting the highest rows
    would let SQLite give their sequence numbers again, below the relay's cursor, to events that would
    then never be published. Returns the rows changed. ``participant_id`` must be a UUID: a text
    search for anything shorter could name every row."""
    participant_id = canonical_uuid(participant_id)
    names = and_(
        outbox_table.c.envelope.contains(participant_id, autoescape=True),
        outbox_table.c.event_type.not_in(list(keep_types)),
    )
    changed = 0
    for statement in (
        delete(outbox_table).where(names, unpublished()),
        update(outbox_table).where(names).values(envelope=ERASED_ENVELOPE),
    ):
        result = await session.execute(statement.execution_options(synchronize_session=False))
        changed += int(getattr(result, "rowcount", 0) or 0)
    return changed
