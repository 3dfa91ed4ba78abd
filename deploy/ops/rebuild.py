"""``rebuild``: replay the stream into an empty database, compare it with the live one table by table, and
(settlement, ``--replace``) swap it in (the package's docstring says how)."""

from __future__ import annotations

import asyncio
import json
import shutil
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import nats
from nats.js import JetStreamContext
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy
from pydantic import ValidationError
from sqlalchemy import MetaData, select, text, update
from sqlalchemy.ext.asyncio import AsyncConnection, create_async_engine

from deploy.ops.services import ServiceOps, connect, operator_settings
from deploy.postgres import PREVIOUS_SUFFIX, REBUILD_SUFFIX
from libs.common.clock import utcnow
from libs.common.db import Database, outbox_table
from libs.common.events import (
    CloudEvent,
    EventPayload,
    UnknownEventType,
    origin_problem,
    parse_payload,
    subject_for,
)
from libs.common.migrations import ensure_schema, upgrade_head_async
from libs.common.nats import ConsumerSpec, EventConsumer, NatsLink
from libs.common.outbox import unpublished
from libs.common.readaudit.store import READ_AUDIT_HEAD
from libs.common.settings import CommonSettings
from libs.common.uow import UnitOfWork

# Columns saying when a row was written: a rebuild writes them anew, so they are not compared.
VOLATILE_COLUMNS = frozenset({"computed_at", "updated_at", "received_at"})


@dataclass
class ReplayStats:
    events: int = 0
    applied: int = 0
    duplicate: int = 0
    skipped: int = 0  # not a CloudEvent, or a type this build does not know
    seconds: float = 0.0
    per_consumer: dict[str, int] = field(default_factory=dict)


def rebuild_settings(ops: ServiceOps, live: CommonSettings) -> CommonSettings:
    if live.is_postgres:
        return live.model_copy(update={"database_schema": f"{live.resolved_database_schema}{REBUILD_SUFFIX}"})
    return live.model_copy(update={"var_dir": live.var_dir / "rebuild"})


def _quoted(schema: str, name: str) -> str:
    return '"{}"."{}"'.format(schema.replace('"', '""'), name.replace('"', '""'))


async def _tables(connection: AsyncConnection, schema: str) -> list[str]:
    found = await connection.execute(
        text(
            "SELECT c.relname FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n"
            " ON n.oid = c.relnamespace WHERE n.nspname = :s AND c.relkind IN ('r', 'p')"
            " AND NOT c.relispartition ORDER BY c.relname"
        ),
        {"s": schema},
    )
    return list(found.scalars())


async def _functions(connection: AsyncConnection, schema: str) -> list[str]:
    """The functions in ``schema`` (the append-only audits' trigger functions), each as
    ``"schema"."name"(arguments)``."""
    found = await connection.execute(
        text(
            "SELECT p.proname, pg_catalog.pg_get_function_identity_arguments(p.oid) FROM pg_catalog.pg_proc p"
            " JOIN pg_catalog.pg_namespace n ON n.oid = p.pronamespace WHERE n.nspname = :s ORDER BY p.proname"
        ),
        {"s": schema},
    )
    return [f"{_quoted(schema, name)}({arguments})" for name, arguments in found.all()]


async def _nothing_left(connection: AsyncConnection, schema: str) -> None:
    """A table's indexes, sequences and row type go with it, and the trigger functions are moved or
    dropped beside the tables; anything else the migrations never make would be lost or left behind,
    so it stops the operation (its transaction rolls back)."""
    found = await connection.execute(
        text(
            "SELECT o.name FROM pg_catalog.pg_namespace n CROSS JOIN LATERAL ("
            " SELECT c.relname AS name FROM pg_catalog.pg_class c WHERE c.relnamespace = n.oid"
            " UNION ALL SELECT t.typname FROM pg_catalog.pg_type t WHERE t.typnamespace = n.oid"
            " UNION ALL SELECT p.proname FROM pg_catalog.pg_proc p WHERE p.pronamespace = n.oid"
            ") AS o WHERE n.nspname = :s"
        ),
        {"s": schema},
    )
    left = sorted(found.scalars())
    if left:
        raise RuntimeError(f"schema {schema} holds more than tables: {', '.join(left)}")


async def empty_schema(connection: AsyncConnection, schema: str) -> None:
    """Drop every table in ``schema`` and keep the schema."""
    tables = await _tables(connection, schema)
    if tables:
        await connection.execute(text(f"DROP TABLE {', '.join(_quoted(schema, t) for t in tables)} CASCADE"))
    for function in await _functions(connection, schema):
        await connection.execute(text(f"DROP FUNCTION {function}"))
    await _nothing_left(connection, schema)


async def move_tables(connection: AsyncConnection, source: str, target: str) -> None:
    for table in await _tables(connection, source):
        await connection.execute(text(f'ALTER TABLE {_quoted(source, table)} SET SCHEMA "{target}"'))
    for function in await _functions(connection, source):
        await connection.execute(text(f'ALTER FUNCTION {function} SET SCHEMA "{target}"'))
    await _nothing_left(connection, source)


async def empty_database(settings: CommonSettings) -> None:
    if settings.is_postgres:
        engine = create_async_engine(settings.resolved_database_url)
        try:
            async with engine.begin() as connection:
                await empty_schema(connection, settings.resolved_database_schema)
        finally:
            await engine.dispose()
    else:
        await asyncio.to_thread(shutil.rmtree, settings.var_dir, ignore_errors=True)


async def replay(
    database: Database, js: JetStreamContext, consumers: Sequence[ConsumerSpec], batch: int = 1000
) -> ReplayStats:
    """Every event the consumers take, from the stream's first, in stream order, through their own
    handlers and inboxes; each run of events for one consumer is applied in one transaction."""
    settings = database.settings
    by_type: dict[str, EventConsumer] = {}
    link = NatsLink.around(js, settings)
    for spec in consumers:
        runner = EventConsumer(spec, database, link)
        for event_type in spec.event_types:
            by_type[event_type] = runner
    subjects = sorted({subject_for(t, settings.subject_prefix) for t in by_type})
    stats = ReplayStats()
    if not subjects:
        return stats
    started = time.perf_counter()
    subscription = await js.pull_subscribe(
        "",
        stream=settings.nats_stream,
        config=ConsumerConfig(
            filter_subjects=subjects,
            deliver_policy=DeliverPolicy.ALL,
            ack_policy=AckPolicy.NONE,
            inactive_threshold=60.0,
            mem_storage=True,
        ),
    )
    try:
        info = await subscription.consumer_info()
        remaining = int(info.num_pending or 0)
        while remaining > 0:
            try:
                msgs = await subscription.fetch(min(batch, remaining), timeout=5)
            except (TimeoutError, nats.errors.TimeoutError):
                break
            runs: list[tuple[EventConsumer, list[tuple[CloudEvent, EventPayload]]]] = []
            for msg in msgs:
                stats.events += 1
                remaining = int(msg.metadata.num_pending)
                try:
                    event = CloudEvent.from_json_bytes(msg.data)
                    payload = parse_payload(event)
                except (ValidationError, UnknownEventType, ValueError):
                    stats.skipped += 1
                    continue
                if origin_problem(msg.subject, event, settings.subject_prefix) is not None:
                    stats.skipped += 1  # as the live consumer would have refused it
                    continue
                target = by_type.get(event.type)
                if target is None:
                    stats.skipped += 1
                    continue
                if runs and runs[-1][0] is target:
                    runs[-1][1].append((event, payload))
                else:
                    runs.append((target, [(event, payload)]))
            for runner, events in runs:
                async with UnitOfWork(database) as uow:
                    outcomes = await runner.apply_events(uow, events)
                    await uow.commit()
                stats.applied += sum(o.value == "applied" for o in outcomes)
                stats.duplicate += sum(o.value == "duplicate" for o in outcomes)
                stats.per_consumer[runner.durable] = stats.per_consumer.get(runner.durable, 0) + len(events)
    finally:
        await subscription.unsubscribe()
    # What the rebuilt database would publish was published the first time round.
    async with UnitOfWork(database) as uow:
        await uow.session.execute(update(outbox_table).where(unpublished()).values(published_at=utcnow()))
        await uow.commit()
    stats.seconds = time.perf_counter() - started
    return stats


def _normalise(value: Any) -> Any:
    if isinstance(value, Decimal):
        return str(value.quantize(Decimal("0.01")))
    if isinstance(value, datetime):
        return value.astimezone(UTC).isoformat() if value.tzinfo else value.replace(tzinfo=UTC).isoformat()
    if isinstance(value, dict | list):
        return json.dumps(value, sort_keys=True, default=str)
    return value


async def table_rows(database: Database, table_name: str, metadata: MetaData) -> set[tuple[Any, ...]]:
    table = metadata.tables[table_name]
    columns = [c for c in table.columns if c.name not in VOLATILE_COLUMNS]
    async with UnitOfWork(database) as uow:
        rows = (await uow.session.execute(select(*columns))).all()
    return {tuple(_normalise(v) for v in row) for row in rows}


async def compare(ops: ServiceOps, live: Database, rebuilt: Database) -> dict[str, dict[str, int]]:
    """Per read-model table: rows in both, only in the live database, only in the rebuilt one."""
    report: dict[str, dict[str, int]] = {}
    for table_name in (*ops.read_model, *ops.carried):
        a = await table_rows(live, table_name, ops.metadata)
        b = await table_rows(rebuilt, table_name, ops.metadata)
        report[table_name] = {"same": len(a & b), "only_live": len(a - b), "only_rebuilt": len(b - a)}
    return report


async def carry_over(ops: ServiceOps, live: Database, rebuilt: Database) -> None:
    """Copy the tables no event carries whole (entered over REST: economic assumptions, municipal
    spending, drafts, disputes with their lines and steps; the read audit), in ``ops.carried``'s order."""
    for table_name in ops.carried:
        table = ops.metadata.tables[table_name]
        async with UnitOfWork(live) as uow:
            rows = [dict(row._mapping) for row in (await uow.session.execute(select(table))).all()]
        if rows:
            async with UnitOfWork(rebuilt) as uow:
                if table_name == READ_AUDIT_HEAD:
                    # Its one row is made by the migration: moved forward to the live chain's head.
                    if rows[0]["seq"] > 0:
                        await uow.session.execute(
                            table.update().values(seq=rows[0]["seq"], hash=rows[0]["hash"])
                        )
                else:
                    await uow.session.execute(table.insert(), rows)
                await uow.commit()


async def replace(ops: ServiceOps, live: CommonSettings, rebuilt: CommonSettings) -> str:
    stamp = utcnow().strftime("%Y%m%d%H%M%S")
    if live.is_postgres:
        old, new = live.resolved_database_schema, rebuilt.resolved_database_schema
        kept = f"{old}{PREVIOUS_SUFFIX}"
        engine = create_async_engine(live.resolved_database_url)
        try:
            async with engine.begin() as connection:  # all or nothing
                await ensure_schema(connection, kept)
                await empty_schema(connection, kept)
                await move_tables(connection, old, kept)
                await move_tables(connection, new, old)
        finally:
            await engine.dispose()
        return f"schema {old} replaced; the old one is kept as {kept} (until the next --replace)"
    return await asyncio.to_thread(_replace_sqlite, ops.name, live.var_dir, rebuilt.var_dir, stamp)


def _replace_sqlite(name: str, live_dir: Path, rebuilt_dir: Path, stamp: str) -> str:
    live_file = live_dir / f"{name}.db"
    kept_file = live_dir / f"{name}.db.before-rebuild-{stamp}"
    for suffix in ("-wal", "-shm"):
        Path(f"{live_file}{suffix}").unlink(missing_ok=True)
    if live_file.exists():
        live_file.rename(kept_file)
    (rebuilt_dir / f"{name}.db").rename(live_file)
    shutil.rmtree(rebuilt_dir, ignore_errors=True)
    return f"{live_file} replaced; the old one is kept as {kept_file.name}"


async def rebuild(
    ops: ServiceOps, live_settings: CommonSettings | None = None
) -> tuple[ReplayStats, dict[str, Any]]:
    """Replay into an empty database beside the live one and compare; returns stats and report."""
    live_settings = live_settings or operator_settings(ops)
    target = rebuild_settings(ops, live_settings)
    await empty_database(target)
    await upgrade_head_async(target, ops.migrations_dir)
    await upgrade_head_async(live_settings, ops.migrations_dir)
    rebuilt_db, live_db = Database(target), Database(live_settings)
    client, js = await connect(live_settings)
    try:
        stats = await replay(rebuilt_db, js, ops.consumers)
        await carry_over(ops, live_db, rebuilt_db)
        report = await compare(ops, live_db, rebuilt_db)
    finally:
        await client.close()
        await rebuilt_db.dispose()
        await live_db.dispose()
    return stats, report


async def cmd_rebuild(ops: ServiceOps, do_replace: bool) -> int:
    if not ops.read_model:
        print(f"{ops.name} consumes no events into a read model: nothing to rebuild")
        return 2
    if do_replace and not ops.replaceable:
        print(f"{ops.name} holds data of its own beside its read model; --replace is for settlement only")
        return 2
    live = operator_settings(ops)
    stats, report = await rebuild(ops, live)
    print(
        f"replayed {stats.events:,} events in {stats.seconds:.1f} s "
        f"({stats.events / max(stats.seconds, 1e-9):,.0f}/s): {stats.applied:,} applied, "
        f"{stats.duplicate:,} duplicates, {stats.skipped:,} skipped"
    )
    identical = True
    for table_name, counts in report.items():
        differs = counts["only_live"] or counts["only_rebuilt"]
        identical = identical and not differs
        verdict = "DIFFERENT" if differs else "identical"
        print(
            f"  {table_name:<20} {verdict:<10} {counts['same']:>8,} rows the same, "
            f"{counts['only_live']:,} only live, {counts['only_rebuilt']:,} only rebuilt"
        )
    print("rebuilt read model is identical to the live one" if identical else "rebuilt read model DIFFERS")
    if do_replace:
        print(await replace(ops, live, rebuild_settings(ops, live)))
    return 0 if identical else 1
