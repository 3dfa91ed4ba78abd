"""``make bench``: every benchmark, then one table of the figures beside the machine's own limits
measured in the same run and the goals, written to bench/results/latest.json with the machine's
description. Benchmarks are not tests: nothing here fails a build.

    .venv/bin/python -m bench.run_all [--quick]

--quick: fewer runs and smaller sizes (a smoke run, not figures to quote).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

BENCH = Path(__file__).resolve().parent
RESULTS = BENCH / "results"


def machine() -> dict[str, Any]:
    memory = ""
    try:
        memory = next(
            line for line in Path("/proc/meminfo").read_text().splitlines() if line.startswith("MemTotal")
        )
    except (OSError, StopIteration):
        pass
    return {
        **platform.uname()._asdict(),
        "python": platform.python_version(),
        "cpus": os.cpu_count(),
        "memory": memory.split(":", 1)[-1].strip(),
    }


def run(module: str, *args: str) -> None:
    print(f"\n$ python -m {module} {' '.join(args)}", flush=True)
    subprocess.run([sys.executable, "-m", module, *args], cwd=BENCH.parent, check=False)


def load(name: str) -> list[dict[str, Any]]:
    path = RESULTS / f"{name}.json"
    results: list[dict[str, Any]] = json.loads(path.read_text())["results"] if path.exists() else []
    return results


def table() -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    for r in load("ingest"):
        m = r["median"]
        rows.append({
            "database": r["database"], "figure": "single POST, 64 connections",
            "value": f"{m['single']['records_per_s']:,.0f} rec/s, p99 {m['single']['p99_ms']:,.0f} ms",
            "limit": f"baseline {m['baseline']['records_per_s']:,.0f} rec/s, p99 {m['baseline']['p99_ms']:,.0f} ms" if "baseline" in m else "",
            "ratio": round(m["single"]["records_per_s"] / m["baseline"]["records_per_s"], 3) if "baseline" in m else None,
            "goal": "ratio >= 0.7, p99 <= 100 ms",
        })  # fmt: skip
        if "server_cpu_us" in m["single"]:
            rows.append({
                "database": r["database"], "figure": "single POST: server CPU per request",
                "value": f"{m['single']['server_cpu_us']:,.0f} us",
                "limit": f"baseline {m['baseline']['server_cpu_us']:,.0f} us",
                "ratio": round(m["baseline"]["server_cpu_us"] / m["single"]["server_cpu_us"], 3),
                "goal": "(ratio of the busy-machine-proof cost)",
            })  # fmt: skip
        batch_figures = [
            ("records_per_s", "batch ingest (events included)", "ratio >= 0.4"),
            (
                "published_records_per_s",
                "batch ingest, until the events are on the stream",
                "(the same, events published)",
            ),
        ]
        for key, figure, goal in batch_figures:
            if key in m["batch"]:
                rows.append({
                    "database": r["database"], "figure": figure,
                    "value": f"{m['batch'][key]:,.0f} rec/s",
                    "limit": f"raw executemany {m['raw']['records_per_s']:,.0f} rec/s"
                    + (f" (minimal table {m['raw']['minimal_records_per_s']:,.0f})" if "minimal_records_per_s" in m["raw"] else ""),
                    "ratio": round(m["batch"][key] / m["raw"]["records_per_s"], 3),
                    "goal": goal,
                })  # fmt: skip
    for r in load("settlement"):
        rows.append({
            "database": r["database"], "figure": f"POST -> months at {r.get('rate', '?')} rec/s",
            "value": f"p50 {r['latency']['p50_ms']:,.0f} ms, p99 {r['latency']['p99_ms']:,.0f} ms",
            "limit": "", "ratio": None, "goal": "p99 <= 250 ms",
        })  # fmt: skip
        if "post_p99_ms" in r["latency"]:
            rows.append({
                "database": r["database"], "figure": f"single POST answered at {r.get('rate', '?')} rec/s",
                "value": f"p50 {r['latency']['post_p50_ms']:,.0f} ms, p99 {r['latency']['post_p99_ms']:,.0f} ms",
                "limit": "", "ratio": None, "goal": "p99 <= 100 ms",
            })  # fmt: skip
        c = r["catch_up"]
        rows.append({
            "database": r["database"],
            "figure": f"catch-up of {c['events']:,} events ({c['participants']:,} citizens, {c['shape']})",
            "value": f"{c['events_per_s']:,.0f} events/s"
            + (f" (runs {' / '.join(f'{v:,}' for v in c['each_run_events_per_s'])})" if c.get("each_run_events_per_s") else ""),
            "limit": "", "ratio": None,
            "goal": ">= 5,000 events/s",
        })  # fmt: skip
    for r in load("scale"):
        rows.append({
            "database": r["database"], "figure": f"scale: {r['citizens']:,} citizens x 24 months",
            "value": f"recompute {r['recompute_s']:,.1f} s ({r.get('recompute_us_per_citizen', 0):,} us/citizen), statement {r['statement_s']:,.1f} s ({r.get('statement_us_per_citizen', 0):,} us/citizen), peak {r['peak_rss_mib']:,.0f} MiB",
            "limit": "", "ratio": None, "goal": "at 100k: <= 60 s, <= 30 s, <= 1 GiB",
        })  # fmt: skip
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true")
    parser.add_argument(
        "--only",
        default="ingest,settlement,scale",
        help="which scripts; none: only the table of the last results",
    )
    args = parser.parse_args()
    wanted = set(args.only.split(","))
    if "ingest" in wanted:
        run(
            "bench.ingest",
            *(["--runs", "1", "--singles", "500", "--batches", "2"] if args.quick else ["--runs", "3"]),
        )
    if "settlement" in wanted:
        run("bench.settlement", *(
            ["--runs", "1", "--rate", "50", "--seconds", "5", "--backlog", "5000", "--participants", "200", "--shape", "weekly"]
            if args.quick
            else ["--runs", "3", "--rate", "200", "--seconds", "30", "--backlog", "100000", "--participants", "1000", "--shape", "weekly"]
        ))  # fmt: skip
    if "scale" in wanted:
        run(
            "bench.scale",
            *(
                ["--sizes", "1000,5000", "--runs", "1"]
                if args.quick
                else ["--sizes", "1000,10000,100000", "--runs", "3"]
            ),
        )
    rows = table()
    print(
        "\nfigure".ljust(44)
        + "database".ljust(12)
        + "value".ljust(58)
        + "machine limit".ljust(34)
        + "ratio  goal"
    )
    for row in rows:
        ratio = f"{row['ratio']:.3f}" if row["ratio"] is not None else ""
        print(
            f"{row['figure']:<43} {row['database']:<11} {row['value']:<57} {row['limit']:<33} {ratio:<6} {row['goal']}"
        )
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "latest.json").write_text(
        json.dumps(
            {"when": datetime.now(UTC).isoformat(), "machine": machine(), "quick": args.quick, "rows": rows},
            indent=2,
        )
    )


if __name__ == "__main__":
    main()
