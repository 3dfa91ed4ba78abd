"""The database layer's modes on SQLite: read-only units of work beside the writer, and both ways of
running the driver (inline in the event loop, aiosqlite's thread)."""

from __future__ import annotations

import asyncio
import sqlite3
import time
from pathlib import Path

import pytest
from sqlalchemy import insert, select
from sqlalchemy.exc import IntegrityError, OperationalError

from libs.common import db as db_module
from libs.common.db import Database, inbox_table, messaging_metadata
from libs.common.settings import CommonSettings
from libs.common.uow import UnitOfWork
from tests.integration.conftest import eventually


async def new_database(tmp_path: Path, driver: str) -> Database:
    settings = CommonSettings(service_name="modes", var_dir=tmp_path, sqlite_driver=driver)
    database = Database(settings)
    async with database.engine.begin() as connection:
        await connection.run_sync(messaging_metadata.create_all)
    return database


def inbox_row(event_id: str) -> dict[str, object]:
    from libs.common.clock import utcnow

    return {"consumer": "c", "event_id": event_id, "event_type": "t", "processed_at": utcnow()}


@pytest.mark.parametrize("driver", ["inline", "thread"])
async def test_writes_reads_and_constraint_errors_under_each_driver(tmp_path: Path, driver: str) -> None:
    database = await new_database(tmp_path, driver)
    try:
        async with UnitOfWork(database) as uow:
            await uow.session.execute(insert(inbox_table), [inbox_row("a"), inbox_row("b")])
            await uow.commit()
        with pytest.raises(IntegrityError):
            async with UnitOfWork(database) as uow:
                await uow.session.execute(insert(inbox_table), [inbox_row("c"), inbox_row("a")])
                await uow.commit()
        async with UnitOfWork(database, read_only=True) as uow:
            found = (await uow.session.execute(select(inbox_table.c.event_id))).scalars().all()
        assert sorted(found) == ["a", "b"]  # the failed transaction left nothing
    finally:
        await database.dispose()


async def test_a_read_only_unit_of_work_reads_while_the_writer_holds_the_file(tmp_path: Path) -> None:
    database = await new_database(tmp_path, "inline")
    try:
        async with UnitOfWork(database) as writer:
            await writer.session.execute(insert(inbox_table), [inbox_row("pending")])

            # The writer's transaction is open (BEGIN IMMEDIATE holds SQLite's write lock) and it holds
            # the service's writer turn; a reader must neither queue for the turn nor for the lock.
            async def read() -> list[str]:
                async with UnitOfWork(database, read_only=True) as reader:
                    seen = (await reader.session.execute(select(inbox_table.c.event_id))).scalars().all()
                    with pytest.raises(RuntimeError, match="read-only"):
                        await reader.commit()
                return list(seen)

            assert await asyncio.wait_for(read(), timeout=5) == []  # the uncommitted row is not seen
            await writer.commit()
    finally:
        await database.dispose()


async def test_the_inline_driver_waits_for_another_process_lock_without_blocking_the_loop(
    tmp_path: Path,
) -> None:
    database = await new_database(tmp_path, "inline")
    # Another process writing the same file, as an operator's tool would: it holds SQLite's write lock.
    other = sqlite3.connect(tmp_path / "modes.db", isolation_level=None)
    other.execute("BEGIN IMMEDIATE")
    ticks = 0

    async def tick() -> None:
        nonlocal ticks
        while True:
            await asyncio.sleep(0.01)
            ticks += 1

    async def write() -> None:
        async with UnitOfWork(database) as uow:
            await uow.session.execute(insert(inbox_table), [inbox_row("after-the-lock")])
            await uow.commit()

    ticker = asyncio.create_task(tick())
    try:
        writer = asyncio.create_task(write())

        async def loop_served_others() -> bool:
            return ticks >= 10

        await eventually(loop_served_others)  # the loop goes on serving others...
        assert not writer.done()  # ...while the writer waits for the lock
        other.execute("COMMIT")
        await asyncio.wait_for(writer, timeout=5)
        # The probe is a read: it answers even while another process holds the write lock.
        other.execute("BEGIN IMMEDIATE")
        await asyncio.wait_for(database.ping(), timeout=1)
        other.execute("ROLLBACK")
        async with UnitOfWork(database, read_only=True) as uow:
            found = (await uow.session.execute(select(inbox_table.c.event_id))).scalars().all()
        assert found == ["after-the-lock"]
    finally:
        ticker.cancel()
        other.close()
        await database.dispose()


async def test_the_inline_driver_gives_up_on_a_lock_held_past_its_timeout(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(db_module, "SQLITE_LOCK_TIMEOUT_SECONDS", 0.2)
    database = await new_database(tmp_path, "inline")
    other = sqlite3.connect(tmp_path / "modes.db", isolation_level=None)
    other.execute("BEGIN IMMEDIATE")
    try:
        started = time.monotonic()
        with pytest.raises(OperationalError, match="database is locked"):
            async with UnitOfWork(database) as uow:
                await uow.session.execute(insert(inbox_table), [inbox_row("never")])
        assert 0.15 <= time.monotonic() - started < 2
    finally:
        other.rollback()
        other.close()
        await database.dispose()
