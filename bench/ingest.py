"""Ingest speed of progression: status records per second, posted one by one (64 connections) and in
batches, on SQLite and on PostgreSQL (when 127.0.0.1:5432 answers), beside the raw insert rate of the
same database measured in the same run. Medians of several runs; a benchmark, never a test.

    .venv/bin/python -m bench.ingest [--runs 3] [--singles 5000] [--batches 5] [--batch-size 5000]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any, cast

import httpx
import nats
from sqlalchemy import Column, Date, Integer, MetaData, String, Table, event, insert
from sqlalchemy.ext.asyncio import create_async_engine

from bench.loadgen import KeptAliveConnection
from deploy.local import (
    LocalAuth,
    Process,
    drop_schemas,
    free_port,
    port_answers,
    start_nats,
    start_service,
    wait_ready,
)
from libs.common.auth import Role
from libs.common.db import apply_sqlite_pragmas
from libs.common.devtoken import dev_token
from libs.common.ids import uuid7_str
from services.progression.models import StatusRecordRow

SEED = json.loads(
    (Path(__file__).resolve().parents[1] / "deploy" / "seed" / "hedensted-2022.json").read_text()
)
PG_URL = "postgresql://postgres@127.0.0.1:5432/test"
PARTICIPANTS = 50


def headers(role: Role) -> dict[str, str]:
    """A token for the seed programme (only an admin's may hold every programme)."""
    scope = ["*"] if role is Role.admin else [SEED["programme_id"]]
    return {"Authorization": f"Bearer {dev_token(role, scope)}"}


async def setup_participants(intake: str, progression: str) -> list[str]:
    admin, jobcenter = headers(Role.admin), headers(Role.jobcenter)
    async with httpx.AsyncClient(timeout=30) as client:
        await client.post(f"{intake}/v1/programmes", json=SEED, headers=admin)
        ids = []
        for n in range(PARTICIPANTS):
            born = date(1960, 1, 1) + timedelta(days=n * 97)
            cpr = f"{born:%d%m%y}{1000 + n:04d}"
            referred = await client.post(
                f"{intake}/v1/participants",
                json={
                    "programme_id": SEED["programme_id"],
                    "cpr": cpr,
                    "track": "sygedagpenge",
                    "referred_on": "2024-01-02",
                },
                headers=jobcenter,
            )
            ids.append(referred.json()["participant_id"])
        deadline = time.monotonic() + 30
        for pid in ids:  # wait until progression has them all from the events
            while (
                await client.get(f"{progression}/v1/participants/{pid}/status-records", headers=admin)
            ).status_code != 200:
                if time.monotonic() > deadline:
                    raise RuntimeError("progression did not learn the participants")
                await asyncio.sleep(0.05)
    return ids


def record(pid: str, n: int) -> dict[str, Any]:
    start = date(2024, 1, 1) + timedelta(days=n % 700)
    return {
        "participant_id": pid,
        "code": "sygedagpenge" if n % 3 else "employed",
        "valid_from": start.isoformat(),
        "valid_to": (start + timedelta(days=6)).isoformat(),
    }


async def singles(base_url: str, ids: list[str], count: int, connections: int = 64) -> dict[str, float]:
    """``count`` records posted one by one from ``connections`` kept-alive connections, each opened (with
    one post) before the clock starts: 64 connections opened at once would otherwise put their
    handshakes in the first requests' latencies. The lean client of ``bench/loadgen.py``: with httpx the
    load generator, not the server, set the pace (see there)."""
    jobcenter = headers(Role.jobcenter)
    path = "/v1/status-records"
    run = uuid.uuid4().hex[:8]
    pool = [KeptAliveConnection(base_url, jobcenter) for _ in range(connections)]
    latencies: list[float] = []

    async def post(connection: KeptAliveConnection, n: int, kind: str) -> None:
        # A source id makes the post safe to repeat when a kept-alive connection was closed under it
        # (the repeat then returns the stored record).
        body = record(ids[n % len(ids)], n) | {"source_record_id": f"bench-{run}-{kind}-{n}"}
        status, answer = await connection.post_json(path, json.dumps(body).encode())
        if status not in (200, 201):
            raise RuntimeError(f"single post failed: {status} {answer[:200]!r}")

    await asyncio.gather(*(post(connection, n, "warm") for n, connection in enumerate(pool)))
    pending = list(range(count - 1, -1, -1))

    async def worker(connection: KeptAliveConnection) -> None:
        while pending:
            n = pending.pop()
            began = time.perf_counter()
            await post(connection, n, "timed")
            latencies.append(time.perf_counter() - began)

    began = time.perf_counter()
    try:
        await asyncio.gather(*(worker(connection) for connection in pool))
        elapsed = time.perf_counter() - began
    finally:
        await asyncio.gather(*(connection.close() for connection in pool))
    latencies.sort()
    return {
        "records_per_s": count / elapsed,
        "p50_ms": latencies[len(latencies) // 2] * 1000,
        "p99_ms": latencies[int(len(latencies) * 0.99) - 1] * 1000,
    }


async def stream_messages(nats_url: str) -> int:
    connection = await nats.connect(nats_url, **AUTH.nats_options())
    try:
        return int((await connection.jetstream().stream_info("SIB")).state.messages)
    finally:
        await connection.close()


async def batches(progression: str, ids: list[str], count: int, size: int, nats_url: str) -> dict[str, float]:
    """Records per second through the batch endpoint: stored with their events in the outbox (the
    answer), and until every event is on the stream too (the relay publishing behind the writes)."""
    jobcenter = headers(Role.jobcenter) | {"Content-Type": "application/json"}
    before = await stream_messages(nats_url)
    async with httpx.AsyncClient(timeout=300) as client:
        # Encoded before the clock starts, as the raw run's rows are made before its clock: encoding
        # 5,000 records is the load generator's work (10-15 ms a batch here), not the server's.
        bodies = [
            json.dumps({"records": [record(ids[n % len(ids)], b * size + n) for n in range(size)]}).encode()
            for b in range(count)
        ]
        began = time.perf_counter()
        for body in bodies:
            response = await client.post(
                f"{progression}/v1/status-records/batch", content=body, headers=jobcenter
            )
            if response.status_code != 201:
                raise RuntimeError(f"batch failed: {response.status_code} {response.text[:200]}")
        elapsed = time.perf_counter() - began
    while await stream_messages(nats_url) < before + count * size:
        await asyncio.sleep(0.01)
    published = time.perf_counter() - began
    return {"records_per_s": count * size / elapsed, "published_records_per_s": count * size / published}


def cpu_seconds(pid: int) -> float:
    """User + system CPU of a process so far (Linux /proc): what a request costs the server, whatever
    else the machine is doing at the time."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def with_cpu(pid: int, count: int, measuring: Any) -> dict[str, float]:
    """The figures of ``measuring`` plus the server's CPU microseconds per request or record."""
    before = cpu_seconds(pid)
    figures: dict[str, float] = await measuring
    return figures | {"server_cpu_us": (cpu_seconds(pid) - before) * 1e6 / count}


async def raw_inserts(url: str, schema: str | None, rows: int, transactions: int = 1) -> dict[str, float]:
    """SQLAlchemy Core executemany of status-record rows: the database's own pace, into two tables,
    ``transactions`` times ``rows`` rows (as many rows and transactions as the batches post).

    ``records_per_s``: the rows the batch stores (nine columns, time-ordered ids, 50 participants) into a
    table defined as progression's ``status_records`` is, with its two unique constraints. This is the
    limit the batch figure is set against. ``minimal_records_per_s``: six of the columns into a table
    with only its primary key (the yardstick of the rounds before 2026-12-02, kept for comparison)."""
    sa_url = url.replace("postgresql://", "postgresql+asyncpg://").replace(
        "sqlite:///", "sqlite+aiosqlite:///"
    )
    engine = create_async_engine(sa_url)
    if url.startswith("sqlite"):
        # The services' settings (WAL, synchronous=NORMAL, the cache, the checkpoint interval): the
        # default checkpoint every 1,000 pages would charge the raw run checkpoints the services skip.
        event.listen(engine.sync_engine, "connect", lambda connection, _: apply_sqlite_pragmas(connection))

    suffix = uuid.uuid4().hex[:8]
    metadata = MetaData(schema=schema)
    minimal = Table(
        f"bench_raw_{suffix}", metadata,
        Column("record_id", String(36), primary_key=True), Column("participant_id", String(36)),
        Column("code", String(32)), Column("valid_from", Date), Column("valid_to", Date), Column("recording_seq", Integer),
    )  # fmt: skip
    same = cast(Table, StatusRecordRow.__table__).to_metadata(metadata, name=f"bench_records_{suffix}")
    for constraint in same.constraints:  # names of their own: PostgreSQL keeps them per schema
        if constraint.name:
            constraint.name = f"{constraint.name}_{suffix}"
    participants = [str(uuid.uuid4()) for _ in range(PARTICIPANTS)]
    recorded_at = datetime.now(UTC)
    same_values = [
        [{"record_id": uuid7_str(), "participant_id": participants[n % PARTICIPANTS], "programme_id": SEED["programme_id"],
          "code": "employed", "valid_from": date(2024, 1, 1), "valid_to": date(2024, 1, 7),
          "recording_seq": n // PARTICIPANTS + 1, "recorded_at": recorded_at, "source_record_id": None}
         for n in range(t * rows, (t + 1) * rows)]
        for t in range(transactions)
    ]  # fmt: skip
    minimal_values = [
        [{"record_id": str(uuid.uuid4()), "participant_id": str(uuid.uuid4()), "code": "employed",
          "valid_from": date(2024, 1, 1), "valid_to": date(2024, 1, 7), "recording_seq": n}
         for n in range(t * rows, (t + 1) * rows)]
        for t in range(transactions)
    ]  # fmt: skip
    rates = {}
    try:
        async with engine.begin() as connection:
            await connection.run_sync(metadata.create_all)
        for key, table, chunks in (
            ("records_per_s", same, same_values),
            ("minimal_records_per_s", minimal, minimal_values),
        ):
            began = time.perf_counter()
            for values in chunks:
                async with engine.begin() as connection:
                    await connection.execute(insert(table), values)
            rates[key] = rows * transactions / (time.perf_counter() - began)
        async with engine.begin() as connection:
            await connection.run_sync(metadata.drop_all)
    finally:
        await engine.dispose()
    return rates


# The run's development issuer and NATS passwords (set by measure).
AUTH: LocalAuth


async def measure(database: str, args: argparse.Namespace) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as tmp:
        tmp_path = Path(tmp)
        nats_port = free_port()
        nats_url = f"nats://127.0.0.1:{nats_port}"
        global AUTH
        AUTH = LocalAuth(
            tmp_path / "issuer", tmp_path / "nats-passwords.json"
        )  # the issuer and NATS passwords of this run
        nats_server = start_nats("127.0.0.1", nats_port, tmp_path / "nats", passwords=AUTH.nats_passwords)
        schema_prefix = f"bench_{uuid.uuid4().hex[:6]}"
        env: dict[str, dict[str, str]] = {}
        ports = {"intake": free_port(), "progression": free_port()}
        for name in ports:
            env[name] = {"NATS_URL": f"nats://127.0.0.1:{nats_port}", "VAR_DIR": str(tmp_path / "var"), "LOG_LEVEL": "WARNING",
                         "INTAKE_URL": f"http://127.0.0.1:{ports['intake']}"}  # fmt: skip
            env[name] |= AUTH.service_env(name)
            if database == "postgresql":
                env[name] |= {"DATABASE_URL": PG_URL, "DATABASE_SCHEMA": f"{schema_prefix}_{name}"}
        processes = [
            start_service(name, port, env[name], tmp_path / f"{name}.log") for name, port in ports.items()
        ]
        try:
            urls = {name: f"http://127.0.0.1:{port}" for name, port in ports.items()}
            for process in processes:
                wait_ready(urls[process.name], process)
            ids = await setup_participants(urls["intake"], urls["progression"])
            runs: dict[str, list[dict[str, float]]] = {"single": [], "baseline": [], "batch": [], "raw": []}
            baseline_port = free_port()
            baseline = subprocess.Popen(
                [sys.executable, "-m", "uvicorn", "bench.baseline_app:create_app", "--factory",
                 "--port", str(baseline_port), "--no-access-log", "--log-level", "warning"],
                cwd=Path(__file__).resolve().parents[1], env={**os.environ, **env["progression"]},
            )  # fmt: skip
            processes.append(Process("baseline", baseline))
            while not port_answers("127.0.0.1", baseline_port):
                await asyncio.sleep(0.05)
            progression_pid = processes[1].popen.pid
            for _ in range(args.runs):
                runs["single"].append(
                    await with_cpu(
                        progression_pid, args.singles, singles(urls["progression"], ids, args.singles)
                    )
                )
                runs["baseline"].append(
                    await with_cpu(
                        baseline.pid,
                        args.singles,
                        singles(f"http://127.0.0.1:{baseline_port}", ids, args.singles),
                    )
                )
                runs["batch"].append(
                    await with_cpu(
                        progression_pid,
                        args.batches * args.batch_size,
                        batches(urls["progression"], ids, args.batches, args.batch_size, nats_url),
                    )
                )
                raw_url = PG_URL if database == "postgresql" else f"sqlite:///{tmp_path / 'var' / 'raw.db'}"
                runs["raw"].append(
                    await raw_inserts(
                        raw_url,
                        f"{schema_prefix}_progression" if database == "postgresql" else None,
                        args.batch_size,
                        args.batches,
                    )
                )
        finally:
            for process in processes:
                process.stop()
            nats_server.stop()
            AUTH.stop()
            if database == "postgresql":
                await drop_schemas(PG_URL, like=schema_prefix)
    median = {
        kind: {key: statistics.median(r[key] for r in results) for key in results[0]}
        for kind, results in runs.items()
    }
    return {"database": database, "runs": args.runs, "median": median, "each_run": runs}


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--singles", type=int, default=5000)
    parser.add_argument("--batches", type=int, default=5)
    parser.add_argument("--batch-size", type=int, default=5000)
    parser.add_argument("--databases", default="sqlite,postgresql")
    args = parser.parse_args()
    results = []
    for database in args.databases.split(","):
        if database == "postgresql" and not port_answers("127.0.0.1", 5432):
            print("PostgreSQL does not answer at 127.0.0.1:5432: skipped")
            continue
        results.append(asyncio.run(measure(database, args)))
    print(
        f"\nprogression ingest, median of {args.runs} runs ({platform.node()}, {platform.processor() or platform.machine()})"
    )
    print(
        f"{'database':<11} {'single rec/s':>13} {'p99 ms':>8} {'baseline rec/s':>15} {'ratio':>6} "
        f"{'cpu us/req':>11} {'baseline':>9} {'batch rec/s':>12} {'published':>10} {'cpu us/rec':>11} {'raw rec/s':>10} {'ratio':>6} {'minimal':>9} {'ratio':>6}"
    )
    for r in results:
        m = r["median"]
        print(
            f"{r['database']:<11} {m['single']['records_per_s']:>13,.0f} {m['single']['p99_ms']:>8.1f} "
            f"{m['baseline']['records_per_s']:>15,.0f} {m['single']['records_per_s'] / m['baseline']['records_per_s']:>6.2f} "
            f"{m['single']['server_cpu_us']:>11,.0f} {m['baseline']['server_cpu_us']:>9,.0f} "
            f"{m['batch']['records_per_s']:>12,.0f} {m['batch']['published_records_per_s']:>10,.0f} "
            f"{m['batch']['server_cpu_us']:>11,.0f} "
            f"{m['raw']['records_per_s']:>10,.0f} {m['batch']['records_per_s'] / m['raw']['records_per_s']:>6.2f} "
            f"{m['raw']['minimal_records_per_s']:>9,.0f} "
            f"{m['batch']['records_per_s'] / m['raw']['minimal_records_per_s']:>6.2f}"
        )
    out = Path(__file__).parent / "results"
    out.mkdir(exist_ok=True)
    (out / "ingest.json").write_text(
        json.dumps({"machine": platform.uname()._asdict(), "results": results}, indent=2)
    )


if __name__ == "__main__":
    main()
