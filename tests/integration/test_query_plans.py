"""What the database plans, on a real database: the lookups of many rows by key (progression's records
by source id and by id, settlement's check for records it holds: the right rows, and on PostgreSQL an
index lookup per key whatever plan the server caches for the prepared statement), the relay's pending
query, and the warning a service logs when PostgreSQL runs without autovacuum."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any, TypeVar

import asyncpg  # type: ignore[import-untyped]
import pytest
from sqlalchemy import func, insert, select, text, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncSession

from deploy.postgres import Owner, asyncpg_dsn, drop_roles, provision, role_url
from libs.common.db import Database, create_engine, outbox_table
from libs.common.migrations import upgrade_head_async
from libs.common.nats import NatsLink
from libs.common.outbox import _MARK_PUBLISHED_PG, _PENDING, OutboxRelay
from libs.common.settings import CommonSettings
from libs.common.uow import UnitOfWork
from services.progression.main import MIGRATIONS
from services.progression.repository import StatusRecordRepository
from services.progression.services.status import StoredRecord
from services.progression.settings import ProgressionSettings
from services.settlement.main import MIGRATIONS as SETTLEMENT_MIGRATIONS
from services.settlement.repository import FactsRepository
from services.settlement.settings import SettlementSettings
from tests.conftest import PG_URL
from tests.integration.conftest import ServiceClient

T = TypeVar("T")
HELD = 2_000  # records of one programme, each with a source id


@asynccontextmanager
async def migrated(settings: CommonSettings, migrations: Path) -> AsyncIterator[Database]:
    """A service's tables, migrated, in the test's own database; no service around them."""
    await upgrade_head_async(settings, migrations)
    db = Database(settings)
    try:
        yield db
    finally:
        await db.dispose()


@pytest.fixture
async def db(database: dict[str, Any]) -> AsyncIterator[Database]:
    async with migrated(ProgressionSettings(sib_env="test", **database), MIGRATIONS) as db:
        yield db


@pytest.fixture
async def settlement_db(database: dict[str, Any]) -> AsyncIterator[Database]:
    async with migrated(SettlementSettings(sib_env="test", **database), SETTLEMENT_MIGRATIONS) as db:
        yield db


async def looked_up_seven_times(
    db: Database, lookup: Callable[[AsyncSession], Awaitable[T]]
) -> tuple[T, int | None]:
    """The lookup's answer, run seven times in one transaction, and on PostgreSQL how many rows of
    ``status_records`` it read (by scans and through indexes), under the plan PostgreSQL may settle on
    for a prepared statement after five runs."""
    async with UnitOfWork(db) as uow:
        if db.settings.is_postgres:
            await uow.session.execute(text("SET LOCAL plan_cache_mode = force_generic_plan"))
        for _ in range(7):
            found = await lookup(uow.session)
        if not db.settings.is_postgres:
            return found, None
        read = await uow.session.execute(
            text(
                "SELECT coalesce(seq_tup_read, 0) + coalesce(idx_tup_fetch, 0)"
                " FROM pg_stat_xact_user_tables WHERE relid = 'status_records'::regclass"
            )
        )
        return found, int(read.scalar_one())


def stored(n: int, programme: str = "prog-a") -> StoredRecord:
    return StoredRecord(
        f"rec-{programme}-{n:05d}",
        f"p-{programme}-{n % 50}",
        programme,
        "employed",
        date(2024, 1, 1),
        None,
        n // 50 + 1,
        datetime(2024, 2, 1, tzinfo=UTC),
        f"src-{n:05d}",
    )


async def test_source_ids_find_their_own_records_by_the_index(db: Database) -> None:
    async with UnitOfWork(db) as uow:
        await StatusRecordRepository(uow.session).insert_many(
            [stored(n) for n in range(HELD)] + [stored(0, "prog-b")]
        )
        await uow.commit()
    wanted = [("prog-a", "src-00007"), ("prog-b", "src-00000"), ("prog-b", "src-00007"), ("prog-c", "x")]
    found, read = await looked_up_seven_times(
        db, lambda session: StatusRecordRepository(session).by_source_ids(wanted)
    )
    # prog-b's src-00007 is no record, though prog-b and src-00007 each are.
    assert {key: row.record_id for key, row in found.items()} == {
        ("prog-a", "src-00007"): "rec-prog-a-00007",
        ("prog-b", "src-00000"): "rec-prog-b-00000",
    }
    if read is not None:
        # Seven lookups of two stored pairs each: the rows found, not the programme's 2,000.
        assert read <= 7 * len(wanted), read


async def test_records_by_id_are_each_looked_up_by_the_index(db: Database) -> None:
    """A retried batch's records, read back by id (as many ids as the batch held)."""
    async with UnitOfWork(db) as uow:
        await StatusRecordRepository(uow.session).insert_many([stored(n) for n in range(HELD)])
        await uow.commit()
    wanted = [f"rec-prog-a-{n:05d}" for n in range(0, HELD, 40)] + ["rec-none"]
    found, read = await looked_up_seven_times(
        db, lambda session: StatusRecordRepository(session).by_ids(wanted)
    )
    assert sorted(row.record_id for row in found) == wanted[:-1]
    if read is not None:
        assert read <= 7 * len(wanted), read


async def test_settlement_checks_which_records_it_holds_by_the_index(settlement_db: Database) -> None:
    def record(n: int) -> dict[str, Any]:
        return {
            "record_id": f"rec-{n:05d}",
            "participant_id": f"p-{n % 50}",
            "programme_id": "prog-a",
            "code": "employed",
            "valid_from": date(2024, 1, 1),
            "valid_to": None,
            "recording_seq": n // 50 + 1,
            "recorded_at": datetime(2024, 2, 1, tzinfo=UTC),
        }

    async with UnitOfWork(settlement_db) as uow:
        await FactsRepository(uow.session).insert_records([record(n) for n in range(HELD)])
        await uow.commit()
    # A consumer's batch: mostly new records, some held (a redelivery, a resync).
    wanted = [f"rec-{n:05d}" for n in range(HELD - 20, HELD + 480)]
    known, read = await looked_up_seven_times(
        settlement_db, lambda session: FactsRepository(session).known_records(wanted)
    )
    assert known == {f"rec-{n:05d}" for n in range(HELD - 20, HELD)}
    if read is not None:
        # Seven checks of 20 held records: not the 2,000 the table holds, seven times.
        assert read <= 7 * 20, read


async def test_a_service_warns_when_postgresql_runs_without_autovacuum(
    capsys: pytest.CaptureFixture[str], intake: ServiceClient
) -> None:
    settings = intake.app.state.settings
    off = False
    if settings.is_postgres:  # the server's own answer, asked beside the service
        engine = create_engine(settings)
        try:
            async with engine.connect() as connection:
                off = (await connection.execute(text("SHOW autovacuum"))).scalar_one() == "off"
        finally:
            await engine.dispose()
    logged = capsys.readouterr().out
    assert ("postgresql_autovacuum_off" in logged) is off
    assert "service_started" in logged


PUBLISHED = 2_000  # outbox rows already published (and, without vacuum, their dead versions)


def outbox_rows(first: int, count: int) -> list[dict[str, Any]]:
    now = datetime(2026, 12, 3, tzinfo=UTC)
    return [
        {
            "event_id": f"e-{n:05d}",
            "subject": "s",
            "event_type": "t",
            "envelope": "x" * 900,
            "created_at": now,
        }
        for n in range(first, first + count)
    ]


@pytest.fixture
async def alone_db(database: dict[str, Any]) -> AsyncIterator[Database]:
    """Progression's tables; on PostgreSQL in a database of their own, where a VACUUM removes what it
    may: a snapshot held by another test in the shared database would keep every dead row version."""
    if not database.get("database_url"):
        async with migrated(ProgressionSettings(sib_env="test", **database), MIGRATIONS) as db:
            yield db
        return
    name = f"{database['database_schema']}_own"
    admin = await asyncpg.connect(asyncpg_dsn(PG_URL))
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
    finally:
        await admin.close()
    admin_url = make_url(PG_URL).set(database=name).render_as_string(hide_password=False)
    role = f"{database['database_schema']}_o"
    try:
        await provision(admin_url, [Owner(role, (role,))])
        try:
            fragment = database | {"database_url": role_url(admin_url, role), "database_schema": role}
            async with migrated(ProgressionSettings(sib_env="test", **fragment), MIGRATIONS) as db:
                yield db
        finally:
            await drop_roles(admin_url, [role])
    finally:
        admin = await asyncpg.connect(asyncpg_dsn(PG_URL))
        try:
            await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        finally:
            await admin.close()


async def test_the_relay_finds_what_is_pending_without_reading_what_was_published(alone_db: Database) -> None:
    db = alone_db
    async with UnitOfWork(db) as uow:
        await uow.session.execute(insert(outbox_table), outbox_rows(0, PUBLISHED))
        await uow.commit()
    async with UnitOfWork(db) as uow:
        await uow.session.execute(update(outbox_table).values(published_at=datetime.now(UTC)))
        await uow.commit()
    async with UnitOfWork(db) as uow:
        await uow.session.execute(insert(outbox_table), outbox_rows(PUBLISHED, 3))
        await uow.commit()
    pending = await OutboxRelay(db, NatsLink(db.settings)).pending()
    assert [row.event_id for row in pending] == ["e-02000", "e-02001", "e-02002"]

    if db.settings.is_postgres:
        # As autovacuum leaves the table: the published rows' old versions are gone (in a database
        # of the test's own, no other test's snapshot can hold them back).
        async with db.engine.connect() as connection:
            autocommit = await connection.execution_options(isolation_level="AUTOCOMMIT")
            await autocommit.execute(text("VACUUM outbox"))
    async with db.engine.connect() as connection:
        if db.settings.is_postgres:
            # The relay's own statement, as the generic plan PostgreSQL caches for it: it reads the
            # pages of the three pending rows, not those of the 2,000 published ones.
            sql = str(_PENDING.compile(dialect=postgresql.dialect()))  # type: ignore[no-untyped-call]
            sql = sql.replace("%(published_through)s", "$1").replace("%(limit)s", "$2")
            await connection.execute(text(f"PREPARE pending_rows(bigint, int) AS {sql}"))
            await connection.execute(text("SET plan_cache_mode = force_generic_plan"))
            blocks = []
            for _ in range(2):
                plan = (
                    await connection.execute(
                        text("EXPLAIN (ANALYZE, BUFFERS, FORMAT JSON) EXECUTE pending_rows(0, 500)")
                    )
                ).scalar_one()
                top = plan[0]["Plan"]
                blocks.append(top["Shared Hit Blocks"] + top["Shared Read Blocks"])
            await connection.execute(text("DEALLOCATE pending_rows"))
            assert max(blocks) <= 20, blocks
        else:
            # A search from the cursor (by the partial index or the key), never a scan of the table.
            compiled = str(_PENDING.compile(dialect=sqlite.dialect()))
            plan = (await connection.exec_driver_sql(f"EXPLAIN QUERY PLAN {compiled}", (0, 500, 0))).all()
            assert any("SEARCH outbox USING" in str(step) for step in plan), plan


async def test_a_relay_pass_is_marked_published_through_the_key(db: Database) -> None:
    """The relay marks a pass of 500 rows in an outbox of 2,000 by their sequence numbers, through the
    key, whatever plan PostgreSQL caches for the statement (on SQLite: by the rowid)."""
    async with UnitOfWork(db) as uow:
        await uow.session.execute(insert(outbox_table), outbox_rows(0, PUBLISHED))
        await uow.commit()
    relay = OutboxRelay(db, NatsLink(db.settings))
    await relay.mark_published(await relay.pending(limit=500))
    assert [row.seq for row in await relay.pending(limit=PUBLISHED)] == list(range(501, PUBLISHED + 1))

    if not db.settings.is_postgres:
        # SQLite moves the cursor and leaves the rows as they were written.
        assert await relay.published_through() == 500
        assert await OutboxRelay(db, NatsLink(db.settings)).published_through() == 500  # as stored
        async with db.read_sessionmaker() as session:
            marked = await session.execute(
                select(func.count()).select_from(outbox_table).where(outbox_table.c.published_at.is_not(None))
            )
            assert marked.scalar_one() == 0
        return
    scans = text(
        "SELECT seq_scan, coalesce(idx_scan, 0) FROM pg_stat_xact_user_tables WHERE relid = 'outbox'::regclass"
    )
    async with UnitOfWork(db) as uow:
        await uow.session.execute(text("SET LOCAL plan_cache_mode = force_generic_plan"))
        # Counted from here: the view also holds this connection's counts not yet sent to the server.
        before = (await uow.session.execute(scans)).one()
        for start in range(500, PUBLISHED, 500):
            seqs = list(range(start + 1, start + 501))
            await uow.session.execute(_MARK_PUBLISHED_PG, {"seqs": seqs, "now": datetime.now(UTC)})
        after = (await uow.session.execute(scans)).one()
    # Three passes, each row found by the key (an index search per sequence number), no table scan.
    assert (after[0] - before[0], after[1] - before[1]) == (0, 1500)
