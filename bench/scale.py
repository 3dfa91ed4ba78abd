"""How settlement's cost grows with the programme: 1k, 10k and 100k citizens with 24 months of
statuses each; the time to recompute every month, to issue one statement, and the peak memory, per
size, on SQLite and on PostgreSQL (when 127.0.0.1:5432 answers). Each size runs in a process of its
own, so its peak RSS is its own; the statuses are loaded once and the recompute and statement timed
``--runs`` times (months, statements and outbox emptied between runs), medians reported. A benchmark,
never a test.

    .venv/bin/python -m bench.scale [--sizes 1000,10000,100000] [--databases sqlite,postgresql] [--runs 3]\n        [--skip-statement]

Goal at 100k: recompute <= 60 s, statement <= 30 s, peak <= 1 GiB, growth linear.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import platform
import random
import resource
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import delete, insert, text

from deploy.local import drop_schemas, port_answers
from libs.common.app import tune_collector
from libs.common.auth import Principal, Role
from libs.common.db import Database, outbox_table
from libs.common.migrations import upgrade_head
from libs.common.uow import UnitOfWork
from services.settlement.domain import Month
from services.settlement.models import CutoffRow, ParticipantRow, ProgrammeTermsRow, StatusRecordRow
from services.settlement.services.months import recompute_programme
from services.settlement.services.statements import approve_draft, prepare_draft
from services.settlement.settings import SettlementSettings

REPO = Path(__file__).resolve().parents[1]
SEED = json.loads((REPO / "deploy" / "seed" / "hedensted-2022.json").read_text())
PG_URL = "postgresql://postgres@127.0.0.1:5432/test"
PROGRAMME = "bench-scale"
# Four eyes: the jobcenter prepares, a finance officer (another sub) approves.
PREPARER = Principal("bench-jobcenter", Role.jobcenter, frozenset({PROGRAMME}))
APPROVER = Principal("bench-finance", Role.finance, frozenset({PROGRAMME}))
CODES = ["employed", "employed", "education", "sygedagpenge", "kontanthjaelp", "jobafklaring"]


async def load(database: Database, size: int) -> None:
    rng = random.Random(size)
    now = datetime.now(UTC)
    terms = SEED["terms"] | {"tracks": {"sygedagpenge": size, "jobafklaring": size}}
    async with UnitOfWork(database) as uow:
        await uow.session.execute(
            insert(ProgrammeTermsRow).values(
                programme_id=PROGRAMME, version=1, name="bench", effective_from=date(2022, 1, 1),
                terms=terms, received_at=now,
            )
        )  # fmt: skip
        await uow.session.execute(
            insert(CutoffRow).values(
                programme_id=PROGRAMME, complete_through=date(2026, 2, 28), recorded_at=now
            )
        )
        await uow.commit()
    chunk = 2000
    for start in range(0, size, chunk):
        participants, records = [], []
        for n in range(start, min(size, start + chunk)):
            pid = str(uuid.UUID(int=n + 1))
            enrolled = date(2024, 1, 1) + timedelta(days=rng.randrange(0, 28))
            participants.append(
                {"participant_id": pid, "programme_id": PROGRAMME, "track": "sygedagpenge",
                 "referred_on": enrolled - timedelta(days=5), "enrolled_on": enrolled, "updated_at": now}
            )  # fmt: skip
            for month in range(24):
                first = date(2024 + month // 12, month % 12 + 1, 1)
                last = date(2024 + (month + 1) // 12, (month + 1) % 12 + 1, 1) - timedelta(days=1)
                records.append(
                    {"record_id": str(uuid.uuid4()), "participant_id": pid, "programme_id": PROGRAMME,
                     "code": rng.choice(CODES), "valid_from": max(first, enrolled), "valid_to": last,
                     "recording_seq": month + 1, "recorded_at": now}
                )  # fmt: skip
        async with UnitOfWork(database) as uow:
            await uow.session.execute(insert(ParticipantRow), participants)
            await uow.session.execute(insert(StatusRecordRow), records)
            await uow.commit()


async def forget_results(database: Database) -> None:
    """Back to the state after loading: no months, statements or outbox rows, so the next run's
    recompute computes every month again and its statement is the programme's first."""
    async with UnitOfWork(database) as uow:
        for table in (
            "statement_lines", "statement_line_parts", "statements", "statement_drafts", "participant_months",
        ):  # fmt: skip
            await uow.session.execute(text(f"DELETE FROM {table}"))  # noqa: S608 - fixed names
        await uow.session.execute(delete(outbox_table))
        await uow.commit()


async def child(
    size: int, settings: SettlementSettings, statement: bool = True, runs: int = 3, analyze: bool = True
) -> dict[str, Any]:
    await asyncio.to_thread(upgrade_head, settings, REPO / "services" / "settlement" / "migrations")
    tune_collector(settings)  # as the service's lifespan does
    database = Database(settings)
    timings: list[dict[str, Any]] = []
    try:
        began = time.perf_counter()
        await load(database, size)
        if analyze and settings.is_postgres:
            # Statistics, as autovacuum gathers them within a minute of a load this size: without
            # them the planner knows nothing of the millions of rows just copied in.
            async with (
                database.engine.begin() as connection
            ):  # committed: a rolled-back ANALYZE keeps nothing
                await connection.execute(text("ANALYZE"))
        loaded = time.perf_counter() - began
        for run in range(runs):
            if run:
                await forget_results(database)
            began, cpu_began = time.perf_counter(), time.process_time()
            async with UnitOfWork(database) as uow:
                changed = await recompute_programme(uow, PROGRAMME)
                await uow.commit()
            timing: dict[str, Any] = {
                "recompute_s": time.perf_counter() - began,
                "recompute_cpu_s": time.process_time() - cpu_began,
                "months_changed": changed,
                "recompute_peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
            }
            if statement:
                # Drafted (one ledger pass, hashed only), then approved by another person (the issue).
                began, cpu_began = time.perf_counter(), time.process_time()
                draft = await prepare_draft(database, PREPARER, PROGRAMME, Month.parse("2026-04"))
                timing |= {
                    "draft_s": time.perf_counter() - began,
                    "draft_cpu_s": time.process_time() - cpu_began,
                }
                began, cpu_began = time.perf_counter(), time.process_time()
                issued = await approve_draft(database, APPROVER, draft.draft_id, draft.sha256)
                timing |= {
                    "statement_s": time.perf_counter() - began,
                    "statement_cpu_s": time.process_time() - cpu_began,
                    "statement_lines": issued.statement.line_count,
                }
            timings.append(timing)
    finally:
        await database.dispose()

    def median(key: str) -> float:
        return round(float(statistics.median(t[key] for t in timings)), 2)

    return {
        "citizens": size,
        "records": size * 24,
        "runs": runs,
        "load_s": round(loaded, 2),
        "months_changed": timings[0]["months_changed"],
        "recompute_s": median("recompute_s"),
        "recompute_cpu_s": median("recompute_cpu_s"),
        "recompute_us_per_citizen": round(median("recompute_s") * 1e6 / size),
        # The peak of the process after the first recompute (later runs reuse what it allocated).
        "recompute_peak_rss_mib": round(timings[0]["recompute_peak_rss_mib"], 1),
        "draft_s": median("draft_s") if statement else None,
        "draft_cpu_s": median("draft_cpu_s") if statement else None,
        "statement_s": median("statement_s") if statement else None,
        "statement_cpu_s": median("statement_cpu_s") if statement else None,
        "statement_us_per_citizen": round(median("statement_s") * 1e6 / size) if statement else None,
        "statement_lines": timings[0].get("statement_lines", 0),
        "peak_rss_mib": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
        "each_run": [{k: round(v, 2) if isinstance(v, float) else v for k, v in t.items()} for t in timings],
    }


def run_child(size: int, database: str, statement: bool = True, runs: int = 3) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as tmp:
        schema = f"bench_scale_{uuid.uuid4().hex[:6]}"
        args = [
            sys.executable,
            "-m",
            "bench.scale",
            "--child",
            str(size),
            "--database",
            database,
            "--var",
            tmp,
            "--schema",
            schema,
            "--runs",
            str(runs),
            *([] if statement else ["--skip-statement"]),
        ]
        try:
            done = subprocess.run(args, cwd=REPO, capture_output=True, text=True, check=False, timeout=3600)
        finally:
            if database == "postgresql":
                asyncio.run(drop_schemas(PG_URL, [schema]))
        if done.returncode != 0:
            raise RuntimeError(done.stderr[-2000:])
        result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
        return result | {"database": database}


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--sizes", default="1000,10000,100000")
    parser.add_argument("--databases", default="sqlite,postgresql")
    parser.add_argument(
        "--skip-statement", action="store_true", help="time the recompute and its memory only"
    )
    parser.add_argument(
        "--runs", type=int, default=3, help="timed runs per size (one load); medians reported"
    )
    parser.add_argument(
        "--no-analyze", action="store_true", help="PostgreSQL: time the recompute before statistics exist"
    )
    parser.add_argument("--child", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--database", help=argparse.SUPPRESS)
    parser.add_argument("--var", help=argparse.SUPPRESS)
    parser.add_argument("--schema", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        fields: dict[str, Any] = {"var_dir": Path(args.var), "log_level": "WARNING"}
        if args.database == "postgresql":
            fields |= {"database_url": PG_URL, "database_schema": args.schema}
        result = asyncio.run(
            child(
                args.child,
                SettlementSettings(**fields),
                not args.skip_statement,
                args.runs,
                not args.no_analyze,
            )
        )
        print(json.dumps(result))
        return
    results = []
    for database in args.databases.split(","):
        if database == "postgresql" and not port_answers("127.0.0.1", 5432):
            print("PostgreSQL does not answer at 127.0.0.1:5432: skipped")
            continue
        for size in (int(s) for s in args.sizes.split(",")):
            result = run_child(size, database, not args.skip_statement, args.runs)
            results.append(result)
            statement = (
                "skipped"
                if result["statement_s"] is None
                else f"draft {result['draft_s']:>6.2f} s, approval {result['statement_s']:>6.2f} s"
            )
            print(
                f"{database:<11} {size:>8,} citizens (median of {result['runs']}): recompute {result['recompute_s']:>7.2f} s "
                f"(cpu {result['recompute_cpu_s']:.2f} s, peak {result['recompute_peak_rss_mib']:.1f} MiB), "
                f"statement {statement}, peak {result['peak_rss_mib']:>7.1f} MiB",
                flush=True,
            )
    out = Path(__file__).parent / "results"
    out.mkdir(exist_ok=True)
    (out / "scale.json").write_text(
        json.dumps({"machine": platform.uname()._asdict(), "results": results}, indent=2)
    )


if __name__ == "__main__":
    main()
