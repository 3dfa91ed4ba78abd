"""PostgreSQL connections that die in the pool (a server restart, a cut connection): without a ping at
every checkout, the first unit of work that meets one fails as "database unavailable" (a 503, never a
500), the whole pool is replaced, and the next unit of work runs."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, insert, select, text

from libs.common.clock import utcnow
from libs.common.db import Database, inbox_table, messaging_metadata
from libs.common.errors import database_unavailable
from libs.common.settings import CommonSettings
from libs.common.uow import UnitOfWork
from tests.conftest import PG_URL, _drop_schema, postgres_available
from tests.integration.conftest import create_tables

pytestmark = pytest.mark.postgres


@pytest.fixture
def postgres(tmp_path: Path) -> Iterator[dict[str, Any]]:
    """A PostgreSQL schema of the test's own (a SQLite file has no connection to lose)."""
    if not postgres_available():
        pytest.skip("PostgreSQL does not answer at 127.0.0.1:5432")
    schema = f"t_{uuid.uuid4().hex[:12]}"
    try:
        yield {"database_url": PG_URL, "database_schema": schema, "var_dir": tmp_path / "var"}
    finally:
        asyncio.run(_drop_schema(schema))


async def backend_pids(database: Database, connections: int) -> set[int]:
    """Check out ``connections`` connections at once (so the pool holds that many) and return their
    server process ids."""
    pids: set[int] = set()
    opened: list[Any] = []
    try:
        for _ in range(connections):
            connection = await database.engine.connect()
            opened.append(connection)
            pids.add((await connection.execute(text("SELECT pg_backend_pid()"))).scalar_one())
    finally:
        for connection in opened:
            await connection.close()
    return pids


async def test_connections_killed_in_the_pool_fail_one_unit_of_work_as_unavailable_then_recover(
    postgres: dict[str, Any],
) -> None:
    settings = CommonSettings(service_name="reconnect", **postgres)
    db = Database(settings)
    admin = Database(settings)  # another pool, as the operator's session killing the backends
    try:
        await create_tables(db, messaging_metadata)
        pids = await backend_pids(db, 3)
        async with admin.engine.begin() as connection:
            for pid in pids:
                await connection.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})

        row = {"consumer": "c", "event_id": "e-1", "event_type": "t", "processed_at": utcnow()}
        with pytest.raises(Exception) as failed:
            async with UnitOfWork(db) as uow:
                await uow.session.execute(insert(inbox_table), [row])
                await uow.commit()
        assert database_unavailable(failed.value), repr(failed.value)  # answered as a 503

        # The disconnect invalidated the pool: every connection that was killed is replaced, so the
        # next units of work (as many as the pool held) all run.
        for n in range(3):
            async with UnitOfWork(db) as uow:
                await uow.session.execute(insert(inbox_table), [row | {"event_id": f"e-{n + 2}"}])
                await uow.commit()
        async with UnitOfWork(db, read_only=True) as uow:
            stored = (await uow.session.execute(select(func.count()).select_from(inbox_table))).scalar_one()
        assert stored == 3  # the failed one wrote nothing
        await db.ping()
    finally:
        await db.dispose()
        await admin.dispose()
