"""Settlement's recompute and event catch-up measured in one process, without HTTP or NATS, so a
profiler sees only settlement's own work. A benchmark, never a test.

    .venv/bin/python -m bench.settlement_inproc recompute --size 10000 [--database postgresql] [--profile out.html]
    .venv/bin/python -m bench.settlement_inproc catchup --participants 1000 --events 100000 [--shape weekly|bench]

``recompute``: ``size`` citizens x 24 months of statuses (as bench/scale.py loads them), then every month
of the programme recomputed in one transaction (first time: every month new), then again (nothing
changes: every month compared), then again after a cut-off moved (every month provisional -> known).

``catchup``: the participants enrolled with their months computed, then ``events`` status.recorded
events as JSON envelopes, applied as the settlement-facts consumer applies a fetched batch (parse the
envelope and payload, inbox check, handler, inbox rows, recompute, months.recalculated to the outbox,
commit), ``--batch`` at a time. ``--shape weekly``: each participant's events are consecutive weeks
(a citizen has about 100 weekly records in two years); ``--shape bench``: open-ended records starting
on day ``n % 600`` as bench/settlement.py posts them.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import json
import pstats
import resource
import tempfile
import time
import uuid
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import event, insert

from bench.scale import PG_URL, PROGRAMME, SEED, load
from deploy.local import drop_schemas
from libs.common.contracts import StatusCategory, StatusCode, StatusRecordedV1
from libs.common.db import Database
from libs.common.events import CloudEvent, new_event, parse_payload
from libs.common.ids import uuid7_str
from libs.common.migrations import upgrade_head
from libs.common.nats import EventConsumer, NatsLink
from libs.common.tracing import SpanKind, fallback_tracing, started_span
from libs.common.uow import UnitOfWork
from services.settlement.handlers import CONSUMERS
from services.settlement.models import CutoffRow, ParticipantRow, ProgrammeTermsRow
from services.settlement.services.months import recompute_programme
from services.settlement.settings import SettlementSettings

REPO = Path(__file__).resolve().parents[1]


def sql_timings(database: Database) -> dict[str, list[float]]:
    """Seconds spent in the driver per statement (first 90 characters), to see which query costs."""
    timings: dict[str, list[float]] = {}

    @event.listens_for(database.engine.sync_engine, "before_cursor_execute")
    def before(conn: Any, cursor: Any, statement: str, *rest: Any) -> None:
        conn.info["bench_began"] = time.perf_counter()

    @event.listens_for(database.engine.sync_engine, "after_cursor_execute")
    def after(conn: Any, cursor: Any, statement: str, *rest: Any) -> None:
        key = " ".join(statement.split())[:90]
        entry = timings.setdefault(key, [0, 0.0])
        entry[0] += 1
        entry[1] += time.perf_counter() - conn.info.pop("bench_began", time.perf_counter())

    return timings


def peak_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


class Profiler:
    def __init__(self, kind: str | None, out: str | None) -> None:
        self.kind, self.out = kind, out
        self.profiler: Any = None

    def __enter__(self) -> Profiler:
        if self.kind == "pyinstrument":
            from pyinstrument import Profiler as Pyinstrument

            self.profiler = Pyinstrument(async_mode="disabled")
            self.profiler.start()
        elif self.kind == "cprofile":
            self.profiler = cProfile.Profile()
            self.profiler.enable()
        return self

    def __exit__(self, *exc: object) -> None:
        if self.kind == "pyinstrument":
            self.profiler.stop()
            if self.out:
                Path(self.out).write_text(self.profiler.output_text(unicode=False, show_all=False))
        elif self.kind == "cprofile":
            self.profiler.disable()
            stats = pstats.Stats(self.profiler)
            if self.out:
                stats.dump_stats(self.out)
            stats.sort_stats("tottime").print_stats(25)


async def recompute(database: Database, args: argparse.Namespace) -> dict[str, Any]:
    began = time.perf_counter()
    await load(database, args.size)
    result: dict[str, Any] = {"citizens": args.size, "load_s": round(time.perf_counter() - began, 2)}
    steps = ["first", "unchanged", "cutoff_moved"]
    for step in steps:
        if step == "cutoff_moved":
            async with UnitOfWork(database) as uow:
                await uow.session.execute(
                    insert(CutoffRow).values(
                        programme_id=PROGRAMME,
                        complete_through=date(2026, 6, 30),
                        recorded_at=datetime.now(UTC),
                    )
                )
                await uow.commit()
        with Profiler(args.profile if step in args.profile_steps.split(",") else None, args.out):
            began, cpu_began = time.perf_counter(), time.process_time()
            async with UnitOfWork(database) as uow:
                changed = await recompute_programme(uow, PROGRAMME)
                await uow.commit()
            result[f"{step}_s"] = round(time.perf_counter() - began, 2)
            result[f"{step}_cpu_s"] = round(time.process_time() - cpu_began, 2)
        result[f"{step}_changed"] = changed
        result[f"{step}_peak_mib"] = round(peak_mib(), 1)
        print(json.dumps(result), flush=True)
    return result


async def enrol(database: Database, participants: int) -> list[str]:
    now = datetime.now(UTC)
    ids = [str(uuid.UUID(int=n + 1)) for n in range(participants)]
    async with UnitOfWork(database) as uow:
        terms = SEED["terms"] | {"tracks": {"sygedagpenge": participants, "jobafklaring": participants}}
        await uow.session.execute(
            insert(ProgrammeTermsRow).values(
                programme_id=PROGRAMME, version=1, name="bench", effective_from=date(2022, 1, 1),
                terms=terms, received_at=now,
            )
        )  # fmt: skip
        await uow.session.execute(
            insert(CutoffRow).values(
                programme_id=PROGRAMME, complete_through=date(2025, 6, 30), recorded_at=now
            )
        )
        await uow.session.execute(
            insert(ParticipantRow),
            [
                {"participant_id": pid, "programme_id": PROGRAMME, "track": "sygedagpenge",
                 "referred_on": date(2024, 1, 1), "enrolled_on": date(2024, 1, 2), "updated_at": now}
                for pid in ids
            ],
        )  # fmt: skip
        await recompute_programme(uow, PROGRAMME)
        await uow.commit()
    return ids


def envelopes(ids: list[str], events: int, shape: str) -> list[bytes]:
    seq: dict[str, int] = {}
    out = []
    now = datetime.now(UTC)
    tracing = fallback_tracing()
    for n in range(events):
        pid = ids[n % len(ids)]
        seq[pid] = seq.get(pid, 0) + 1
        if shape == "weekly":
            week = seq[pid] - 1
            valid_from = date(2024, 1, 1) + timedelta(weeks=week % 104)
            valid_to: date | None = valid_from + timedelta(days=6)
            code = StatusCode.employed if (week // 5) % 3 else StatusCode.sygedagpenge
        else:
            valid_from, valid_to = date(2024, 1, 2) + timedelta(days=n % 600), None
            code = StatusCode.employed if n % 2 else StatusCode.sygedagpenge
        category = (
            StatusCategory.self_supporting if code is StatusCode.employed else StatusCategory.public_support
        )
        payload = StatusRecordedV1(
            record_id=uuid7_str(), participant_id=pid, programme_id=PROGRAMME, code=code,
            category=category, valid_from=valid_from, valid_to=valid_to, recording_seq=seq[pid],
            recorded_at=now + timedelta(microseconds=n),
        )  # fmt: skip
        # Each in a request's trace of its own, as single posts make them (export off: unsampled).
        with started_span(tracing, "POST", SpanKind.SERVER, None):
            out.append(new_event(payload, subject=f"participant/{pid}").to_json_bytes())
    return out


async def catchup(database: Database, args: argparse.Namespace) -> dict[str, Any]:
    ids = await enrol(database, args.participants)
    raw = envelopes(ids, args.events, args.shape)
    spec = next(spec for spec in CONSUMERS if spec.name == "settlement-facts")
    consumer = EventConsumer(spec, database, NatsLink(database.settings))
    with Profiler(args.profile, args.out):
        began, cpu_began = time.perf_counter(), time.process_time()
        segment = max(args.batch, args.events // args.rounds)
        rounds: list[int] = []
        round_began = began
        for start in range(0, len(raw), args.batch):
            items = [CloudEvent.from_json_bytes(data) for data in raw[start : start + args.batch]]
            async with UnitOfWork(database) as uow:
                await consumer.apply_events(uow, [(event, parse_payload(event)) for event in items])
                await uow.commit()
            done = start + len(items)
            if done % segment == 0 or done == len(raw):
                now = time.perf_counter()
                rounds.append(round((done - (len(rounds) * segment)) / (now - round_began)))
                round_began = now
        elapsed, cpu = time.perf_counter() - began, time.process_time() - cpu_began
    result = {
        "participants": args.participants,
        "events": args.events,
        "shape": args.shape,
        "batch": args.batch,
        "seconds": round(elapsed, 2),
        "events_per_s": round(args.events / elapsed),
        "cpu_s": round(cpu, 2),  # every thread of the process: a steadier figure on a busy machine
        "events_per_cpu_s": round(args.events / cpu),
        "peak_mib": round(peak_mib(), 1),
        "events_per_s_by_round": rounds,  # does the rate hold as the records held grow?
    }
    print(json.dumps(result), flush=True)
    return result


async def main_async(args: argparse.Namespace) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        fields: dict[str, Any] = {"var_dir": Path(tmp), "log_level": "WARNING"}
        schema = f"bench_inproc_{uuid.uuid4().hex[:6]}"
        if args.database == "postgresql":
            fields |= {"database_url": PG_URL, "database_schema": schema}
        settings = SettlementSettings(**fields)
        await asyncio.to_thread(upgrade_head, settings, REPO / "services" / "settlement" / "migrations")
        database = Database(settings)
        timings = sql_timings(database) if args.sql_timing else None
        try:
            if args.command == "recompute":
                await recompute(database, args)
            else:
                await catchup(database, args)
        finally:
            if timings is not None:
                for statement, (count, seconds) in sorted(timings.items(), key=lambda kv: -kv[1][1])[:12]:
                    print(f"{seconds:8.2f} s {count:7d}x  {statement}")
            await database.dispose()
            if args.database == "postgresql":
                await drop_schemas(PG_URL, [schema])


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("command", choices=["recompute", "catchup"])
    parser.add_argument("--database", default="sqlite", choices=["sqlite", "postgresql"])
    parser.add_argument("--size", type=int, default=1000)
    parser.add_argument("--participants", type=int, default=1000)
    parser.add_argument("--events", type=int, default=20000)
    parser.add_argument("--shape", default="weekly", choices=["weekly", "bench"])
    parser.add_argument("--batch", type=int, default=500)
    parser.add_argument("--rounds", type=int, default=1, help="report the rate per 1/rounds of the events")
    parser.add_argument("--profile", choices=["pyinstrument", "cprofile"])
    parser.add_argument("--profile-steps", default="first", help="recompute steps to profile")
    parser.add_argument("--out", help="where the profile goes")
    parser.add_argument("--sql-timing", action="store_true", help="print the costliest statements")
    asyncio.run(main_async(parser.parse_args()))


if __name__ == "__main__":
    main()
