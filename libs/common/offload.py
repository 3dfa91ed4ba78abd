"""Work that grows with a programme, run beside the event loop instead of on it.

A service's event loop serves every request, the NATS consumers and their acks, the relay and
``/readyz``; a report that computes for seconds on it (a bootstrap over thousands of citizens, a chart,
a large CSV or JSON document) stops all of them for as long. Routes hand such work to the service's
``WorkerPool``: a few threads (``REPORT_WORKERS``), made in the lifespan and shut down with it. Work
beyond them waits its turn in the pool's queue, so at most that many reports compute at once.

Threads, not processes: pure-Python work still holds the GIL, but CPython makes a thread that holds it
give it up when another asks, every ``sys.getswitchinterval()`` (5 ms), so the loop gets its turn
within milliseconds (``tests/integration/test_event_loop_lag.py`` holds it to that). The work's inputs
and results then need no pickling, and the ORM rows a report is computed from can be handed over as
they are, read-only.

Only the pure part of a use case is offloaded, at the route (the adapter): the use case itself neither
knows nor cares where it runs. What it is given must not be touched by the loop meanwhile, and it
must not touch the database session (which belongs to the loop).
"""

from __future__ import annotations

import asyncio
import contextvars
import functools
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import ParamSpec, TypeVar

P = ParamSpec("P")
T = TypeVar("T")


class WorkerPool:
    """A bounded pool of threads for CPU work a request would otherwise do on the event loop."""

    def __init__(self, workers: int, name: str = "report") -> None:
        self.workers = workers
        self._executor = ThreadPoolExecutor(max_workers=workers, thread_name_prefix=name)

    async def run(self, fn: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
        """``fn(*args, **kwargs)`` in a worker thread; the loop serves others until it returns. The
        caller's context goes with it (the trace of its log lines), as ``asyncio.to_thread``
        does."""
        context = contextvars.copy_context()
        call = functools.partial(context.run, fn, *args, **kwargs)
        return await asyncio.get_running_loop().run_in_executor(self._executor, call)

    def shutdown(self) -> None:
        """No new work; work not started is dropped (its requests are gone by the time the lifespan
        ends), work in hand finishes in its thread."""
        self._executor.shutdown(wait=False, cancel_futures=True)
