"""The database layer's modes on SQLite: read-only units of work beside the writer, and both ways of
running the driver (inline in the event loop, aiosqlite's thread)."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from sqlalchemy import insert, select
from sqlalchemy.exc import IntegrityError

from libs.common.db import Database, inbox_table, messaging_metadata
from libs.common.settings import CommonSettings
from libs.common.uow import UnitOfWork


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
