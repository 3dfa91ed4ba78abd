"""Settlement speed: latency from a status POST (progression) to updated months (settlement) at a steady
rate, p50 and p99; and the catch-up rate when settlement consumes a backlog of status events.
A benchmark, never a test.

    .venv/bin/python -m bench.settlement [--rate 20] [--seconds 15] [--backlog 5000] [--databases sqlite,postgresql]
        [--participants 40] [--shape open|weekly]

The default backlog (40 citizens, open-ended records) gives each citizen thousands of overlapping
records; ``--participants 1000 --shape weekly`` is closer to a programme (about 100 weekly records per
citizen in two years). Either way every event is fully applied: stored, its inbox row, the months it
touches recomputed, months.recalculated emitted.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import platform
import statistics
import tempfile
import time
import uuid
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import httpx
import nats

from bench.ingest import PG_URL, SEED, headers
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

PARTICIPANTS = 40


async def has_months(client: httpx.AsyncClient, url: str, admin: dict[str, str]) -> bool:
    """Settlement knows the citizen as enrolled: its months are there (a referral alone has none)."""
    response = await client.get(url, headers=admin)
    return response.status_code == 200 and bool(response.json()["items"])


async def enrol_participants(intake: str, settlement: str, participants: int = PARTICIPANTS) -> list[str]:
    admin, jobcenter = headers(Role.admin), headers(Role.jobcenter)
    async with httpx.AsyncClient(timeout=30) as client:
        # Seats for every citizen (the seed contract has 120 on this track; the rest would get a 409).
        programme = SEED | {"terms": SEED["terms"] | {"tracks": SEED["terms"]["tracks"] | {"sygedagpenge": max(120, participants)}}}  # fmt: skip
        await client.post(f"{intake}/v1/programmes", json=programme, headers=admin)
        ids = []
        for n in range(participants):
            born = date(1960, 1, 1) + timedelta(days=n * 101)
            referred = await client.post(
                f"{intake}/v1/participants",
                json={"programme_id": SEED["programme_id"], "cpr": f"{born:%d%m%y}{2000 + n:04d}", "track": "sygedagpenge", "referred_on": "2024-01-02"},
                headers=jobcenter,
            )  # fmt: skip
            pid = referred.json()["participant_id"]
            enrolled = await client.post(
                f"{intake}/v1/participants/{pid}/enrolment",
                json={"enrolled_on": "2024-01-02", "consent_given_on": "2024-01-02"},
                headers=jobcenter,
            )
            if enrolled.status_code != 200:
                raise RuntimeError(f"enrolment failed: {enrolled.status_code} {enrolled.text[:200]}")
            ids.append(pid)
        deadline = time.monotonic() + 60 + participants / 10
        for pid in ids:
            while not await has_months(client, f"{settlement}/v1/participants/{pid}/months", admin):
                if time.monotonic() > deadline:
                    raise RuntimeError("settlement did not learn the participants")
                await asyncio.sleep(0.05)
    return ids


def source_record_id() -> str:
    """A unique record id in groups of four characters: a run of six digits, which a uuid's first group
    can hold, is CPR-shaped and refused with 422."""
    digits = uuid.uuid4().hex
    return "lat-" + "-".join(digits[i : i + 4] for i in range(0, len(digits), 4))


async def latency(
    progression: str,
    settlement: str,
    ids: list[str],
    rate: float,
    seconds: float,
    nats_url: str,
    state: dict[tuple[str, date], bool],
) -> dict[str, float]:
    """Each sample flips one participant's month between employed and sick; its latency runs from the
    POST until settlement announces the recomputed month (months.recalculated, which it publishes after
    committing the months), so measuring adds no load to the services."""
    jobcenter = headers(Role.jobcenter)
    samples: list[float] = []
    answered: list[float] = []  # the POST alone: until progression's answer
    timeouts: list[int] = []  # samples whose months were not announced within 30 s (counted as 30 s)
    waiting: dict[tuple[str, str], list[tuple[float, asyncio.Future[float]]]] = {}
    connection = await nats.connect(nats_url, **AUTH.nats_options())

    async def on_months(msg: Any) -> None:
        event = json.loads(msg.data)
        pid = event["data"]["participant_id"]
        now = time.perf_counter()
        for change in event["data"]["changes"]:
            for began, future in waiting.pop((pid, change["month"]), []):
                if not future.done():
                    future.set_result(now - began)

    subscription = await connection.subscribe("sib.settlement.months.recalculated.v1", cb=on_months)
    # The lean client of bench/loadgen.py, 64 connections opened before the clock: httpx would spend
    # about 3 ms of CPU per request, 0.6 of this machine's 2 cores at 200 requests/s.
    pool: asyncio.Queue[KeptAliveConnection] = asyncio.Queue()
    for _ in range(64):
        connection_ = KeptAliveConnection(progression, jobcenter)
        await connection_.open()
        pool.put_nowait(connection_)

    async def one(n: int) -> None:
        pid = ids[n % len(ids)]
        month = date(2024, 2 + (n // len(ids)) % 10, 1)
        # Always a change of the month: ``state`` (per participant and month: sick now?) outlives a
        # run, or a later run would post what is stored already, see no recompute and wait in vain.
        sick = not state.get((pid, month), False)
        state[(pid, month)] = sick
        body = {"participant_id": pid, "code": "sygedagpenge" if sick else "employed", "valid_from": month.isoformat(), "valid_to": (month + timedelta(days=27)).isoformat(), "source_record_id": source_record_id()}  # fmt: skip
        future: asyncio.Future[float] = asyncio.get_running_loop().create_future()
        began = time.perf_counter()
        waiting.setdefault((pid, f"{month:%Y-%m}"), []).append((began, future))
        connection_ = await pool.get()
        try:
            status, answer = await connection_.post_json("/v1/status-records", json.dumps(body).encode())
        finally:
            pool.put_nowait(connection_)
        if status not in (200, 201):
            raise RuntimeError(answer.decode(errors="replace"))
        answered.append(time.perf_counter() - began)
        try:
            samples.append(await asyncio.wait_for(future, timeout=30))
        except TimeoutError:
            samples.append(30.0)
            timeouts.append(n)

    tasks = []
    began = time.perf_counter()
    try:
        for n in range(int(rate * seconds)):
            tasks.append(asyncio.create_task(one(n)))
            await asyncio.sleep(max(0.0, began + (n + 1) / rate - time.perf_counter()))
        await asyncio.gather(*tasks)
    finally:
        while not pool.empty():
            await pool.get_nowait().close()
    await subscription.unsubscribe()
    await connection.close()
    samples.sort()
    answered.sort()
    return {
        "samples": len(samples),
        "p50_ms": samples[len(samples) // 2] * 1000,
        "p99_ms": samples[max(0, int(len(samples) * 0.99) - 1)] * 1000,
        "post_p50_ms": answered[len(answered) // 2] * 1000,
        "post_p99_ms": answered[max(0, int(len(answered) * 0.99) - 1)] * 1000,
        "timeouts": len(timeouts),
    }


async def pending(nats_url: str, durable: str) -> int:
    connection = await nats.connect(nats_url, **AUTH.nats_options())
    try:
        info = await connection.jetstream().consumer_info("SIB", durable)
        return int(info.num_pending + info.num_ack_pending)
    finally:
        await connection.close()


def backlog_record(ids: list[str], n: int, shape: str) -> dict[str, str]:
    """The n-th record of the backlog. ``open``: open-ended from day ``n % 600`` (every record of a
    participant overlaps all its later ones); ``weekly``: each participant's records are consecutive
    weeks (valid_from..valid_to), as the register keeps benefits per week, the code changing every
    5 weeks."""
    pid = ids[n % len(ids)]
    if shape == "weekly":
        week = n // len(ids)
        monday = date(2024, 1, 1) + timedelta(weeks=week % 104)
        code = "sygedagpenge" if (week // 5) % 3 == 0 else "employed"
        return {"participant_id": pid, "code": code, "valid_from": monday.isoformat(), "valid_to": (monday + timedelta(days=6)).isoformat()}  # fmt: skip
    code = "employed" if n % 2 else "sygedagpenge"
    return {"participant_id": pid, "code": code, "valid_from": (date(2024, 1, 2) + timedelta(days=n % 600)).isoformat()}  # fmt: skip


async def catch_up(
    progression: str,
    ids: list[str],
    nats_url: str,
    settlement_proc: Process,
    restart: Any,
    backlog: int,
    shape: str = "open",
    offset: int = 0,
) -> dict[str, Any]:
    """Stop settlement, post a backlog of status events, start it again and time the draining.
    ``offset``: where in the endless sequence of backlog records this backlog starts (a later run's
    records are new ones, on top of those already held)."""
    settlement_proc.stop()
    jobcenter = headers(Role.jobcenter)
    async with httpx.AsyncClient(timeout=300) as client:
        size = 1000
        for start in range(0, backlog, size):
            records = [
                backlog_record(ids, offset + n, shape) for n in range(start, min(start + size, backlog))
            ]
            response = await client.post(
                f"{progression}/v1/status-records/batch", json={"records": records}, headers=jobcenter
            )
            if response.status_code != 201:
                raise RuntimeError(response.text)
    while await pending(nats_url, "settlement-facts") < backlog:
        await asyncio.sleep(0.1)  # the relay is still publishing the outbox
    began = time.perf_counter()
    restart()
    # Until its consumer takes the first batch: the process's start (imports, migrations, NATS).
    while await pending(nats_url, "settlement-facts") >= backlog:
        await asyncio.sleep(0.05)
    started = time.perf_counter() - began
    while await pending(nats_url, "settlement-facts") > 0:
        await asyncio.sleep(0.2)
    elapsed = time.perf_counter() - began
    return {"events": backlog, "participants": len(ids), "shape": shape, "seconds": elapsed, "events_per_s": backlog / elapsed, "start_s": started, "drain_events_per_s": backlog / (elapsed - started)}  # fmt: skip


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
        prefix = f"bench_{uuid.uuid4().hex[:6]}"
        ports = {"intake": free_port(), "progression": free_port(), "settlement": free_port()}
        env = {}
        for name in ports:
            env[name] = {"NATS_URL": nats_url, "VAR_DIR": str(tmp_path / "var"), "LOG_LEVEL": "WARNING", "INTAKE_URL": f"http://127.0.0.1:{ports['intake']}"}  # fmt: skip
            env[name] |= AUTH.service_env(name)
            if database == "postgresql":
                env[name] |= {"DATABASE_URL": PG_URL, "DATABASE_SCHEMA": f"{prefix}_{name}"}
        urls = {name: f"http://127.0.0.1:{port}" for name, port in ports.items()}
        processes = {
            name: start_service(name, port, env[name], tmp_path / f"{name}.log")
            for name, port in ports.items()
        }
        try:
            for name, process in processes.items():
                wait_ready(urls[name], process, timeout=60)
            ids = await enrol_participants(urls["intake"], urls["settlement"], args.participants)
            state: dict[tuple[str, date], bool] = {}
            runs = [
                await latency(
                    urls["progression"], urls["settlement"], ids, args.rate, args.seconds, nats_url, state
                )
                for _ in range(args.runs)
            ]

            def restart() -> None:
                processes["settlement"] = start_service(
                    "settlement", ports["settlement"], env["settlement"], tmp_path / "settlement.log"
                )

            backlogs = [
                await catch_up(
                    urls["progression"], ids, nats_url, processes["settlement"], restart, args.backlog,
                    args.shape, run * args.backlog,
                )
                for run in range(args.runs)
            ]  # fmt: skip
        finally:
            for process in processes.values():
                process.stop()
            nats_server.stop()
            AUTH.stop()
            if database == "postgresql":
                await drop_schemas(PG_URL, like=prefix)
    return {
        "database": database,
        "rate": args.rate,
        "seconds": args.seconds,
        "latency": {key: statistics.median(r[key] for r in runs) for key in runs[0]},
        "catch_up": backlogs[0]
        | {
            "runs": len(backlogs),
            "seconds": statistics.median(b["seconds"] for b in backlogs),
            "events_per_s": statistics.median(b["events_per_s"] for b in backlogs),
            "each_run_events_per_s": [round(b["events_per_s"]) for b in backlogs],
            "each_run_start_s": [round(b["start_s"], 2) for b in backlogs],
            "each_run_drain_events_per_s": [round(b["drain_events_per_s"]) for b in backlogs],
        },
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rate", type=float, default=20.0)
    parser.add_argument("--seconds", type=float, default=15.0)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--backlog", type=int, default=5000)
    parser.add_argument("--databases", default="sqlite,postgresql")
    parser.add_argument(
        "--participants",
        type=int,
        default=PARTICIPANTS,
        help="citizens the latency and backlog are spread over",
    )
    parser.add_argument(
        "--shape",
        default="open",
        choices=["open", "weekly"],
        help="backlog records: open-ended from day n %% 600, or consecutive weeks per citizen",
    )
    args = parser.parse_args()
    results = []
    for database in args.databases.split(","):
        if database == "postgresql" and not port_answers("127.0.0.1", 5432):
            print("PostgreSQL does not answer at 127.0.0.1:5432: skipped")
            continue
        results.append(asyncio.run(measure(database, args)))
    print(
        f"\nstatus -> settlement months, {args.rate:g} records/s for {args.seconds:g} s, median of {args.runs} runs; catch-up of {args.backlog} events ({args.shape}, {args.participants} citizens), median of {args.runs} runs"
    )
    print(f"{'database':<11} {'p50 ms':>8} {'p99 ms':>8} {'catch-up events/s':>18}")
    for r in results:
        print(
            f"{r['database']:<11} {r['latency']['p50_ms']:>8.1f} {r['latency']['p99_ms']:>8.1f} {r['catch_up']['events_per_s']:>18,.0f}"
        )
    out = Path(__file__).parent / "results"
    out.mkdir(exist_ok=True)
    (out / "settlement.json").write_text(
        json.dumps({"machine": platform.uname()._asdict(), "results": results}, indent=2)
    )


if __name__ == "__main__":
    main()
