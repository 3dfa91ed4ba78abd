"""The worker pool routes hand report work to: beside the loop, never more at once than its size, with
the caller's context (the trace of its log lines), and the loop's lag sampled meanwhile."""

from __future__ import annotations

import asyncio
import threading
import time

from prometheus_client import REGISTRY

from libs.common.loop_lag import watch_loop_lag
from libs.common.offload import WorkerPool
from libs.common.tracing import SpanKind, current_trace, fallback_tracing, started_span


async def test_work_runs_beside_the_loop_with_the_callers_context() -> None:
    pool = WorkerPool(2)
    try:
        with started_span(fallback_tracing(), "request", SpanKind.SERVER, None) as span:
            thread, seen = await pool.run(lambda: (threading.current_thread(), current_trace()))
        assert thread is not threading.current_thread() and thread.name.startswith("report")
        assert seen == span.get_span_context()
    finally:
        pool.shutdown()


async def test_no_more_than_its_size_run_at_once() -> None:
    pool = WorkerPool(2)
    running, most = 0, 0
    lock = threading.Lock()

    def work() -> None:
        nonlocal running, most
        with lock:
            running += 1
            most = max(most, running)
        time.sleep(0.05)
        with lock:
            running -= 1

    try:
        await asyncio.gather(*(pool.run(work) for _ in range(6)))
    finally:
        pool.shutdown()
    assert most == 2


async def test_the_lag_watch_records_how_long_the_loop_was_held() -> None:
    labels = {"service": "lagtest"}
    watch = asyncio.create_task(watch_loop_lag("lagtest", 0.01))
    await asyncio.sleep(0.05)
    time.sleep(0.3)  # holds the loop
    await asyncio.sleep(0.05)
    watch.cancel()
    count = REGISTRY.get_sample_value("sib_event_loop_lag_seconds_count", labels) or 0
    within = REGISTRY.get_sample_value("sib_event_loop_lag_seconds_bucket", labels | {"le": "0.25"}) or 0
    assert count - within == 1  # the one sample that waited behind the held loop
    assert 0.25 < (REGISTRY.get_sample_value("sib_event_loop_lag_seconds_sum", labels) or 0) < 1
