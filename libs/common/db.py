"""Async SQLAlchemy engine, naming conventions and the messaging tables every service has.

SQLite (WAL, one file per service under var/) by default; PostgreSQL when DATABASE_URL says so, each
service in its own schema.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from contextlib import AbstractAsyncContextManager, nullcontext
from decimal import Decimal
from pathlib import Path
from typing import Any

from sqlalchemy import (
    BigInteger,
    Column,
    DateTime,
    Dialect,
    Index,
    Integer,
    MetaData,
    Numeric,
    String,
    Table,
    Text,
    TextClause,
    TypeDecorator,
    event,
    text,
)
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine

from libs.common.settings import CommonSettings
from libs.common.sqlite_inline import inline_connector

ORE = Decimal("0.01")

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def make_metadata() -> MetaData:
    return MetaData(naming_convention=NAMING_CONVENTION)


# Infrastructure tables that live beside each service's own tables (in its own database).
messaging_metadata = make_metadata()

# Sequence-ordered so the relay publishes in commit order; the event id is the JetStream dedupe key.
outbox_table = Table(
    "outbox",
    messaging_metadata,
    Column("seq", BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True),
    Column("event_id", String(36), nullable=False, unique=True),
    Column("subject", String(255), nullable=False),
    Column("event_type", String(255), nullable=False),
    Column("envelope", Text, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("published_at", DateTime(timezone=True), nullable=True),
    Column("publish_attempts", Integer, nullable=False, server_default=text("0")),
)
# Only the rows still to publish (libs/common/migrations.py, outbox_pending_index_v2, says why).
Index(
    "ix_outbox_pending",
    outbox_table.c.seq,
    postgresql_where=outbox_table.c.published_at.is_(None),
    sqlite_where=outbox_table.c.published_at.is_(None),
)

# How far the relay has published, as one row (``relay``): on SQLite every outbox row up to
# ``published_through`` is published, and the relay moves this instead of marking each row (one
# writer at a time, so rows commit in ``seq`` order and none can appear below it later; marking each
# row rewrote its page, which the checkpoint then copied back too; figures:
# docs/performance.md#eighth-session-2026-12-04). PostgreSQL can commit rows out of ``seq`` order, so
# there the relay marks each
# row's ``published_at`` and this stays where the migration put it. A row is published when its
# ``published_at`` is set or it is at or below this.
outbox_cursor_table = Table(
    "outbox_cursor",
    messaging_metadata,
    Column("relay", String(100), primary_key=True),
    Column("published_through", BigInteger, nullable=False),
)

# One row per (consumer, event id) handled, written in the same transaction as the effect.
inbox_table = Table(
    "inbox",
    messaging_metadata,
    Column("consumer", String(100), primary_key=True),
    Column("event_id", String(36), primary_key=True),
    Column("event_type", String(255), nullable=False),
    Column("processed_at", DateTime(timezone=True), nullable=False),
)


class Money(TypeDecorator[Decimal]):
    """DKK with øre, exact: NUMERIC(14, 2) on PostgreSQL, text on SQLite (which would store a NUMERIC as
    a binary float). Always read back as a Decimal with two places."""

    impl = Numeric(14, 2)
    cache_ok = True

    def load_dialect_impl(self, dialect: Dialect) -> Any:
        if dialect.name == "sqlite":
            return dialect.type_descriptor(String(32))
        return dialect.type_descriptor(Numeric(14, 2, asdecimal=True))

    def process_bind_param(self, value: Decimal | None, dialect: Dialect) -> Any:
        if value is None:
            return None
        amount = Decimal(value).quantize(ORE)
        return str(amount) if dialect.name == "sqlite" else amount

    def process_result_value(self, value: Any, dialect: Dialect) -> Decimal | None:
        return None if value is None else Decimal(str(value)).quantize(ORE)


def each_key_lookup(table: str, keys: Sequence[str], *, columns: str = "*", where: str = "") -> TextClause:
    """PostgreSQL: the rows of ``table`` matching wanted key values, each looked up in the key's index by
    itself. The values go in as one array per key column, bound by the column's name (a row per match;
    ``where``: a further condition, with its own bind parameters).

    Why not ``key IN (:a, :b, ...)``: the same statement with the same number of values is prepared
    once per connection, and after five runs PostgreSQL may keep a generic plan for it. Planned while
    the table was small (or never analysed), that plan scans the whole table and compares every row with
    every value; as the table grows each lookup costs more (figures:
    docs/performance.md#seventh-session-2026-12-03). ``CROSS JOIN LATERAL ... LIMIT 1`` leaves the
    planner only an index lookup per wanted
    value, whatever it knows of the table."""
    arrays = ", ".join(f"CAST(:{key} AS varchar[])" for key in keys)
    match = " AND ".join(f"{table}.{key} = wanted.{key}" for key in keys)
    if where:
        match = f"{match} AND {where}"
    # Table, columns and condition are the caller's constants, never request data; values are bound.
    return text(
        f"SELECT found.* FROM unnest({arrays}) AS wanted({', '.join(keys)})"  # noqa: S608
        f" CROSS JOIN LATERAL (SELECT {columns} FROM {table} WHERE {match} LIMIT 1) AS found"
    )


READ_ONLY = "sib_read_only"
# How long a SQLite statement waits for another connection's write lock before it fails.
SQLITE_LOCK_TIMEOUT_SECONDS = 30.0


def create_engine(settings: CommonSettings) -> AsyncEngine:
    url = settings.resolved_database_url
    # A failed statement's error (and so a log line or a traceback) never shows its bound values, which
    # may be a CPR ciphertext, a person's record or a client's id.
    kwargs: dict[str, Any] = {"hide_parameters": True}
    if settings.is_postgres:
        schema = settings.resolved_database_schema
        kwargs["connect_args"] = {"server_settings": {"search_path": schema}}
        kwargs["pool_size"] = 10
        kwargs["max_overflow"] = 20
        # No pre-ping: on asyncpg it is three round trips (BEGIN, a ping, ROLLBACK) at every checkout, a
        # large share of a status POST's CPU (figures: docs/performance.md#first-session-2026-12-02). A server
        # restart or a cut connection is handled when a statement meets it instead: SQLAlchemy sees the
        # disconnect, invalidates the whole pool (every connection made before it is replaced at its
        # next checkout), and the failed unit of work answers 503 with Retry-After (a consumer retries
        # in place, the relay on its next pass).
        kwargs["pool_pre_ping"] = False
        return create_async_engine(url, **kwargs)

    # A local file has no connection to lose: no ping (three driver round trips) per checkout.
    settings.var_dir.mkdir(parents=True, exist_ok=True)
    if settings.sqlite_driver == "inline":
        database = make_url(url).database
        assert database is not None
        kwargs["async_creator"] = inline_connector(database, lock_timeout=SQLITE_LOCK_TIMEOUT_SECONDS)
        # The inline driver waits for the file lock itself, in the loop (sqlite_inline.py).
        busy_timeout_ms = 0
    else:
        kwargs["connect_args"] = {"timeout": SQLITE_LOCK_TIMEOUT_SECONDS}
        busy_timeout_ms = int(SQLITE_LOCK_TIMEOUT_SECONDS * 1000)
    # Connections are cheap; enough for the concurrent reads beside the one writer.
    kwargs["pool_size"] = 20
    kwargs["max_overflow"] = 40
    engine = create_async_engine(url, **kwargs)
    _configure_sqlite(engine, busy_timeout_ms)
    return engine


# Every SQLite connection's settings (the benchmarks' raw inserts use them too, to compare alike).
SQLITE_PRAGMAS = (
    "PRAGMA journal_mode=WAL",
    "PRAGMA synchronous=NORMAL",
    "PRAGMA foreign_keys=ON",
    # 64 MiB of page cache (the default is 2 MiB): a programme of 100,000 citizens is a database of
    # about a gigabyte, read per chunk of participants; the cache fills only as pages are read.
    "PRAGMA cache_size=-65536",
    # Checkpoint the WAL every 16,384 pages (64 MiB) instead of every 1,000: a consumer's batch writes
    # several MiB, so the default checkpointed (and fsynced) at nearly every commit, a large share of
    # settlement's catch-up; a page changed by many commits is now copied back once (figures:
    # docs/performance.md#first-session-2026-12-02).
    "PRAGMA wal_autocheckpoint=16384",
)


def apply_sqlite_pragmas(dbapi_connection: Any) -> None:
    """``SQLITE_PRAGMAS`` on a new DBAPI connection (in a ``connect`` event)."""
    cursor = dbapi_connection.cursor()
    for pragma in SQLITE_PRAGMAS:
        cursor.execute(pragma)
    cursor.close()


def _configure_sqlite(engine: AsyncEngine, busy_timeout_ms: int) -> None:
    @event.listens_for(engine.sync_engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Take over transaction control from the driver so every transaction can start IMMEDIATE.
        dbapi_connection.isolation_level = None
        apply_sqlite_pragmas(dbapi_connection)
        cursor = dbapi_connection.cursor()
        cursor.execute(f"PRAGMA busy_timeout={busy_timeout_ms}")
        cursor.close()

    @event.listens_for(engine.sync_engine, "begin")
    def _on_begin(connection: Any) -> None:
        # A deferred transaction that later writes can fail with SQLITE_BUSY without waiting;
        # IMMEDIATE takes the write lock up front and waits for it under busy_timeout. Read-only work
        # runs without BEGIN: each statement reads a snapshot of its own beside the writer, and the
        # driver round trips of BEGIN are saved.
        if not connection.get_execution_options().get(READ_ONLY, False):
            connection.exec_driver_sql("BEGIN IMMEDIATE")


def sqlite_file(settings: CommonSettings) -> Path | None:
    """The SQLite database's file, or None (PostgreSQL, or SQLite in memory)."""
    if settings.is_postgres:
        return None
    database = make_url(settings.resolved_database_url).database
    return None if database in (None, "", ":memory:") else Path(database)


class Database:
    """The engine and session factory of one service."""

    def __init__(self, settings: CommonSettings) -> None:
        self.settings = settings
        self.engine = create_engine(settings)
        self.sessionmaker = async_sessionmaker(self.engine, expire_on_commit=False, class_=AsyncSession)
        # Reads that need no writer's turn: on SQLite a snapshot beside the one writer.
        self._read_engine = self.engine.execution_options(**{READ_ONLY: True})
        self.read_sessionmaker = async_sessionmaker(
            self._read_engine,
            expire_on_commit=False,
            autoflush=False,  # nothing it holds is ever written
            class_=AsyncSession,
        )
        # Set after a commit that wrote outbox rows, so the relay publishes without waiting a poll.
        self.outbox_written = asyncio.Event()
        # SQLite has one writer at a time. Queueing for it here, in the event loop, replaces SQLite's
        # busy handler, which sleeps in growing steps (up to 100 ms) and so stretches every wait.
        self._sqlite_writer = None if settings.is_postgres else asyncio.Lock()

    def serialized(self) -> AbstractAsyncContextManager[object]:
        """Hold while a transaction is open: the SQLite writer queue, or nothing on PostgreSQL."""
        return self._sqlite_writer if self._sqlite_writer is not None else nullcontext()

    async def ping(self) -> None:
        # Read-only: a readiness probe takes no write lock (on SQLite no BEGIN IMMEDIATE), so it never
        # waits behind, nor holds up, a writer.
        async with self._read_engine.connect() as connection:
            await connection.execute(text("SELECT 1"))

    async def autovacuum_off(self) -> bool:
        """Whether the PostgreSQL server runs without autovacuum (never on SQLite). Without it no table is
        ever analysed, so a prepared statement's plan cached while a table was small (a sequential scan)
        is kept however large the table grows."""
        if not self.settings.is_postgres:
            return False
        async with self._read_engine.connect() as connection:
            return str((await connection.execute(text("SHOW autovacuum"))).scalar_one()) == "off"

    async def dispose(self) -> None:
        await self.engine.dispose()
