"""Issuing one statement, timed on its own: load and recompute N citizens once into a kept database
(SQLite under ``--var``, or a PostgreSQL schema), then, in a fresh process, issue the statement for
2026-04 (and, with ``--second``, change some months and issue 2026-05, which reads every line of the
first and writes adjustment lines), deleting what was issued afterwards so the next run starts alike.
The peak RSS printed is the issuing process's own; the CPU seconds (every thread of the process,
SQLite's included) are steadier than the wall-clock ones on a busy machine. A benchmark, never a test.

    .venv/bin/python -m bench.statement prepare --size 10000 [--database postgresql]
    .venv/bin/python -m bench.statement issue --size 10000 [--runs 3] [--second] [--profile out.html]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import resource
import time
from pathlib import Path
from typing import Any, cast

from sqlalchemy import Table, delete, func, select, update

from bench.scale import PG_URL, PROGRAMME, REPO, load
from deploy.local import drop_schemas
from libs.common.auth import Principal, Role
from libs.common.db import Database, outbox_table
from libs.common.migrations import upgrade_head
from libs.common.uow import UnitOfWork
from services.settlement.domain import Month
from services.settlement.models import MonthRow, StatementDraftRow, StatementLineRow, StatementRow
from services.settlement.services.months import recompute_programme
from services.settlement.services.statements import Approved, approve_draft, prepare_draft
from services.settlement.settings import SettlementSettings

ADMIN = Principal("bench", Role.admin, frozenset({"*"}))
APPROVER = Principal("bench-finance", Role.finance, frozenset({PROGRAMME}))


def settings_for(size: int, database: str, var: Path) -> SettlementSettings:
    fields: dict[str, Any] = {"var_dir": var / f"statement-{size}", "log_level": "WARNING"}
    if database == "postgresql":
        fields |= {"database_url": PG_URL, "database_schema": f"bench_statement_{size}"}
    return SettlementSettings(**fields)


async def prepare(settings: SettlementSettings, size: int) -> dict[str, Any]:
    if settings.is_postgres:
        await drop_schemas(PG_URL, [settings.resolved_database_schema])
    else:
        Path(settings.resolved_database_url.split("///", 1)[1]).unlink(missing_ok=True)
    await asyncio.to_thread(upgrade_head, settings, REPO / "services" / "settlement" / "migrations")
    database = Database(settings)
    try:
        began = time.perf_counter()
        await load(database, size)
        async with UnitOfWork(database) as uow:
            await recompute_programme(uow, PROGRAMME)
            await uow.commit()
        return {
            "prepared_s": round(time.perf_counter() - began, 1),
            "peak_rss_mib": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
        }
    finally:
        await database.dispose()


async def draft_and_approve(database: Database, period: str) -> Approved:
    """As the platform issues: a draft prepared (one ledger pass, hashed only), approved by finance."""
    draft = await prepare_draft(database, ADMIN, PROGRAMME, Month.parse(period))
    return await approve_draft(database, APPROVER, draft.draft_id, draft.sha256)


async def forget_statements(database: Database) -> None:
    async with UnitOfWork(database) as uow:
        await uow.session.execute(delete(StatementLineRow))
        await uow.session.execute(delete(StatementRow))
        await uow.session.execute(delete(StatementDraftRow))
        await uow.session.execute(delete(outbox_table))
        await uow.commit()


async def change_some_months(database: Database, restore: bool) -> None:
    """Every 7th participant's 2024-06 fee changes by 1.00 (and back), so the second statement has
    adjustment lines."""
    sign = -1 if restore else 1
    months = cast(Table, MonthRow.__table__)
    async with UnitOfWork(database) as uow:
        query = (
            select(months.c.participant_id, months.c.fee_dkk)
            .where(months.c.programme_id == PROGRAMME, months.c.month == "2024-06")
            .order_by(months.c.participant_id)
        )
        rows = (await uow.session.execute(query)).all()
        for participant_id, fee in rows[::7]:
            await uow.session.execute(
                update(months)
                .where(months.c.participant_id == participant_id, months.c.month == "2024-06")
                .values(fee_dkk=fee + sign)
            )
        await uow.commit()


async def line_count(database: Database, statement_id: str) -> int:
    async with UnitOfWork(database) as uow:
        query = select(func.count()).where(StatementLineRow.statement_id == statement_id)
        return int((await uow.session.execute(query)).scalar_one())


async def issue(settings: SettlementSettings, runs: int, second: bool, profile: str | None) -> None:
    database = Database(settings)
    profiler: Any = None
    if profile:
        from pyinstrument import Profiler

        profiler = Profiler(async_mode="disabled")
    try:
        await forget_statements(database)
        for run in range(runs):
            began, cpu = time.perf_counter(), time.process_time()
            if profiler and run == runs - 1:
                profiler.start()
            first = await draft_and_approve(database, "2026-04")
            first_s, first_cpu = time.perf_counter() - began, time.process_time() - cpu
            if profiler and run == runs - 1 and not second:
                profiler.stop()
            result: dict[str, Any] = {
                "first_s": round(first_s, 2),
                "first_cpu_s": round(first_cpu, 2),
                "first_lines": await line_count(database, first.statement.statement_id),
            }
            if second:
                await change_some_months(database, restore=False)
                began, cpu = time.perf_counter(), time.process_time()
                issued = await draft_and_approve(database, "2026-05")
                result |= {
                    "second_s": round(time.perf_counter() - began, 2),
                    "second_cpu_s": round(time.process_time() - cpu, 2),
                    "second_lines": await line_count(database, issued.statement.statement_id),
                }
                if profiler and run == runs - 1:
                    profiler.stop()
                await change_some_months(database, restore=True)
            await forget_statements(database)
            result["peak_rss_mib"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)
            print(json.dumps(result), flush=True)
    finally:
        await database.dispose()
    if profiler:
        Path(profile or "").write_text(profiler.output_html())
        print(profiler.output_text(unicode=False, color=False, show_all=False)[:6000])


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("command", choices=["prepare", "issue"])
    parser.add_argument("--size", type=int, default=10000)
    parser.add_argument("--database", default="sqlite", choices=["sqlite", "postgresql"])
    parser.add_argument("--var", type=Path, default=REPO / "var" / "bench")
    parser.add_argument("--runs", type=int, default=1)
    parser.add_argument("--second", action="store_true", help="also issue the next period")
    parser.add_argument("--profile", help="write a pyinstrument HTML profile of the last run here")
    args = parser.parse_args()
    settings = settings_for(args.size, args.database, args.var)
    if args.command == "prepare":
        print(json.dumps(asyncio.run(prepare(settings, args.size))))
    else:
        asyncio.run(issue(settings, args.runs, args.second, args.profile))


if __name__ == "__main__":
    main()
