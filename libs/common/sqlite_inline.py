"""SQLite through SQLAlchemy's aiosqlite dialect, but run in the event loop's own thread.

aiosqlite runs every driver call (cursor, execute, fetch, close, commit) in a thread of its own and
hands the result back through the event loop: a thread switch and a loop wake-up per call, about a dozen
per statement-heavy request. Profiled under load (bench/ingest.py), those hand-offs were the largest
cost of a status POST. A local SQLite file in WAL mode answers in microseconds, so here the calls run
inline: each driver coroutine completes without suspending, and SQLAlchemy's greenlet bridge returns
at once.

A call never waits for SQLite's file lock inside SQLite: the connection's busy timeout is 0, so a
statement that finds the file locked (``BEGIN IMMEDIATE`` while another process writes, say an
operator's tool or a test reading the file) fails with SQLITE_BUSY at once, and the cursor waits for the
lock here, with ``asyncio.sleep`` between tries, for at most ``timeout`` seconds. The loop keeps serving
meanwhile (``/readyz``, the NATS heartbeats, the writer that holds the lock when it is this process's
own). Within a service every writer takes its turn in ``Database.serialized()`` first, and WAL readers
never wait for the writer, so such waits are rare. ``SQLITE_DRIVER=thread`` restores aiosqlite's threads.
"""

from __future__ import annotations

import asyncio
import sqlite3
import time
from collections.abc import Callable, Iterable, Sequence
from typing import Any


class InlineCursor:
    def __init__(self, cursor: sqlite3.Cursor, lock_timeout: float) -> None:
        self._cursor = cursor
        self._connection = cursor.connection
        self._lock_timeout = lock_timeout

    async def __aenter__(self) -> InlineCursor:
        return self

    async def __aexit__(self, *exc: object) -> None:
        self._cursor.close()

    @property
    def description(self) -> Any:
        return self._cursor.description

    @property
    def rowcount(self) -> int:
        return self._cursor.rowcount

    @property
    def lastrowid(self) -> int | None:
        return self._cursor.lastrowid

    @property
    def arraysize(self) -> int:
        return self._cursor.arraysize

    @arraysize.setter
    def arraysize(self, value: int) -> None:
        self._cursor.arraysize = value

    async def execute(self, sql: str, parameters: Sequence[Any] | None = None) -> InlineCursor:
        try:
            self._run(sql, parameters)
        except sqlite3.OperationalError as exc:
            if not self._may_wait(exc):
                raise
            await self._wait_for_lock(sql, parameters, exc)
        return self

    def _run(self, sql: str, parameters: Sequence[Any] | None) -> None:
        if parameters is None:
            self._cursor.execute(sql)
        else:
            self._cursor.execute(sql, parameters)

    def _may_wait(self, exc: sqlite3.OperationalError) -> bool:
        # Only a statement outside a transaction (BEGIN itself, or a read on its own) is retried: one
        # inside a transaction holds the write lock already, and SQLITE_BUSY there means something else.
        return exc.sqlite_errorcode == sqlite3.SQLITE_BUSY and self._connection.in_transaction is False

    async def _wait_for_lock(
        self, sql: str, parameters: Sequence[Any] | None, first: sqlite3.OperationalError
    ) -> None:
        deadline = time.monotonic() + self._lock_timeout
        delay = 0.001
        while True:
            if time.monotonic() + delay > deadline:
                raise first
            await asyncio.sleep(delay)
            delay = min(delay * 2, 0.025)
            try:
                self._run(sql, parameters)
                return
            except sqlite3.OperationalError as exc:
                if not self._may_wait(exc):
                    raise

    async def executemany(self, sql: str, parameters: Iterable[Sequence[Any]]) -> InlineCursor:
        self._cursor.executemany(sql, parameters)
        return self

    async def fetchone(self) -> Any:
        return self._cursor.fetchone()

    async def fetchmany(self, size: int | None = None) -> list[Any]:
        return self._cursor.fetchmany(size if size is not None else self._cursor.arraysize)

    async def fetchall(self) -> list[Any]:
        return self._cursor.fetchall()

    async def close(self) -> None:
        self._cursor.close()

    def __aiter__(self) -> InlineCursor:
        return self

    async def __anext__(self) -> Any:
        row = self._cursor.fetchone()
        if row is None:
            raise StopAsyncIteration
        return row


class _CursorContext:
    """What ``aiosqlite.Connection.cursor()`` returns: entered (``__aenter__``) for the cursor."""

    def __init__(self, connection: sqlite3.Connection, lock_timeout: float) -> None:
        self._connection = connection
        self._lock_timeout = lock_timeout

    async def __aenter__(self) -> InlineCursor:
        return InlineCursor(self._connection.cursor(), self._lock_timeout)

    async def __aexit__(self, *exc: object) -> None:
        return None


class _ImmediateQueue:
    """SQLAlchemy sets ``isolation_level`` by putting ``(future, function)`` on aiosqlite's queue of
    work for its thread; here the function runs at once."""

    def put_nowait(self, item: tuple[asyncio.Future[Any], Callable[[], Any]]) -> None:
        future, function = item
        try:
            future.set_result(function())
        except Exception as exc:
            future.set_exception(exc)


class InlineConnection:
    """The part of ``aiosqlite.Connection`` that SQLAlchemy's aiosqlite dialect uses."""

    def __init__(self, connection: sqlite3.Connection, lock_timeout: float) -> None:
        self._conn = connection
        self._connection: sqlite3.Connection | None = connection
        self._lock_timeout = lock_timeout
        self._tx = _ImmediateQueue()

    @property
    def isolation_level(self) -> str | None:
        return self._conn.isolation_level

    @isolation_level.setter
    def isolation_level(self, value: str | None) -> None:
        self._conn.isolation_level = value  # type: ignore[assignment]

    def cursor(self) -> _CursorContext:
        return _CursorContext(self._conn, self._lock_timeout)

    async def commit(self) -> None:
        self._conn.commit()

    async def rollback(self) -> None:
        self._conn.rollback()

    async def close(self) -> None:
        if self._connection is not None:
            self._connection = None
            self._conn.close()

    def stop(self) -> None:
        if self._connection is not None:
            self._connection = None
            self._conn.close()

    async def create_function(self, *args: Any, **kwargs: Any) -> None:
        self._conn.create_function(*args, **kwargs)


def inline_connector(database: str, *, lock_timeout: float) -> Callable[[], Any]:
    """The ``async_creator`` for ``create_async_engine``: a new inline connection to ``database``, which
    waits up to ``lock_timeout`` seconds for SQLite's file lock without blocking the loop."""

    async def connect() -> InlineConnection:
        # timeout=0: SQLite's own busy handler (which sleeps in the loop's thread) is off.
        return InlineConnection(sqlite3.connect(database, check_same_thread=False, timeout=0), lock_timeout)

    return connect
