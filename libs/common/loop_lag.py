"""The event loop's lag, measured from inside it: a task sleeps a fixed interval and records how much
later than asked it woke. Whatever held the loop meanwhile (a long computation in a request, a large
document encoded at once, a synchronous call) held every other request, consumer and ack as long."""

from __future__ import annotations

import asyncio

from libs.common.metrics import EVENT_LOOP_LAG, EVENT_LOOP_LAG_LAST


async def watch_loop_lag(service: str, interval: float) -> None:
    """Runs until cancelled; one sample per ``interval`` seconds into ``sib_event_loop_lag_seconds``."""
    loop = asyncio.get_running_loop()
    histogram, gauge = EVENT_LOOP_LAG.labels(service), EVENT_LOOP_LAG_LAST.labels(service)
    while True:
        asked = loop.time() + interval
        await asyncio.sleep(interval)
        lag = max(0.0, loop.time() - asked)
        histogram.observe(lag)
        gauge.set(lag)
