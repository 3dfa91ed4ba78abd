"""SQLite through SQLAlchemy's aiosqlite dialect, but run in the event loop's own thread.

aiosqlite runs every driver call (cursor, execute, fetch, close, commit) in a thread of its own and
hands the result back through the event loop: a thread switch and a loop wake-up per call, about a dozen
per statement-heavy request. Profiled under load (bench/ingest.py), those hand-offs were the largest
cost of a status POST. A local SQLite file in WAL mode answers in microseconds, so here the calls run
inline: each driver coroutine completes without suspending, and SQLAlchemy's greenlet bridge returns
at once.

The price: a call that has to wait for SQLite's file lock blocks the loop while it waits. Within a
service every writer takes its turn in ``Database.serialized()`` first, and WAL readers never wait for
the writer, so only another process writing the same file (an operator's tool) can make it wait, for at
most ``busy_timeout``. ``SQLITE_DRIVER=thread`` restores aiosqlite's threads.
"""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Callable, Iterable, Sequence
from typing import Any


class InlineCursor:
    def __init__(self, cursor: sqlite3.Cursor) -> None:
        self._cursor = cursor

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
        if parameters is None:
            self._cursor.execute(sql)
        else:
            self._cursor.execute(sql, parameters)
        return self

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

    def __init__(self, connection: sqlite3.Connection) -> None:
        self._connection = connection

    async def __aenter__(self) -> InlineCursor:
        return InlineCursor(self._connection.cursor())

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

    def __init__(self, connection: sqlite3.Connection) -> None:
        self._conn = connection
        self._connection: sqlite3.Connection | None = connection
        self._tx = _ImmediateQueue()

    @property
    def isolation_level(self) -> str | None:
        return self._conn.isolation_level

    @isolation_level.setter
    def isolation_level(self, value: str | None) -> None:
        self._conn.isolation_level = value  # type: ignore[assignment]

    def cursor(self) -> _CursorContext:
        return _CursorContext(self._conn)

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


def inline_connector(database: str, **kwargs: Any) -> Callable[[], Any]:
    """The ``async_creator`` for ``create_async_engine``: a new inline connection to ``database``."""

    async def connect() -> InlineConnection:
        return InlineConnection(sqlite3.connect(database, check_same_thread=False, **kwargs))

    return connect
