"""The event loop keeps answering while a heavy report is made: settlement in-process with its lifespan
(consumers, relay, the lag watch) on a real database, 600 citizens with two years of statuses each
loaded directly, an outcomes report with 10,000 bootstrap resamples and its chart. The loop's lag is exported
as ``sib_event_loop_lag_seconds``; ``resamples`` has a bound."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from typing import Any

import pytest
from prometheus_client import REGISTRY

from bench.scale import PROGRAMME, load
from libs.common.auth import Role
from services.settlement.api.outcomes import MAX_RESAMPLES
from services.settlement.main import create_app
from services.settlement.settings import SettlementSettings
from tests.integration.conftest import ServiceClient, auth, running

ADMIN = auth(Role.admin)
OUTCOMES = f"/v1/programmes/{PROGRAMME}/outcomes"
# Longer than the loop may be held: a NATS consumer's heartbeat, a readiness probe and every other
# request wait as long.
BOUND_SECONDS = 0.5


@pytest.fixture
async def settlement(nats_url: str, database: dict[str, Any]) -> AsyncIterator[ServiceClient]:
    settings = SettlementSettings(
        sib_env="test", nats_url=nats_url, event_loop_lag_interval_seconds=0.02, **database
    )
    app = create_app(settings)
    async with running(app, "http://settlement") as client:
        yield client


def lag_samples() -> tuple[float, float]:
    """How many lag samples settlement has taken, and how many of them were above the bound."""
    labels = {"service": "settlement"}
    count = REGISTRY.get_sample_value("sib_event_loop_lag_seconds_count", labels) or 0.0
    within = REGISTRY.get_sample_value("sib_event_loop_lag_seconds_bucket", labels | {"le": "0.5"}) or 0.0
    return count, count - within


@pytest.mark.slow_on("postgresql")  # the SQLite run stays in make test
async def test_the_loop_keeps_answering_while_a_large_outcomes_report_is_made(
    settlement: ServiceClient,
) -> None:
    await load(settlement.app.state.database, 600)  # 600 citizens, 24 months of statuses each
    answered: list[float] = []
    done = asyncio.Event()

    async def probe() -> None:
        while not done.is_set():
            response = await settlement.get("/healthz")
            assert response.status_code == 200
            answered.append(time.perf_counter())
            await asyncio.sleep(0.01)

    await asyncio.sleep(0.1)  # the lag watch has sampled the idle loop
    samples_before, late_before = lag_samples()
    prober = asyncio.create_task(probe())
    began = time.perf_counter()
    try:
        report = await settlement.get(OUTCOMES, params={"resamples": MAX_RESAMPLES}, headers=ADMIN)
        chart = await settlement.get(f"{OUTCOMES}/chart.png", headers=ADMIN)
    finally:
        done.set()
        await prober
    took = time.perf_counter() - began
    assert report.status_code == 200 and len(report.json()["items"]) == 600
    assert chart.status_code == 200 and chart.content.startswith(b"\x89PNG")
    gaps = [b - a for a, b in zip([began, *answered], answered, strict=False)]
    assert max(gaps) < BOUND_SECONDS, f"/healthz went unanswered for {max(gaps):.2f} s of {took:.2f} s"
    samples_after, late_after = lag_samples()
    assert samples_after > samples_before  # the watch sampled the loop meanwhile
    assert late_after == late_before, "sib_event_loop_lag_seconds saw the loop held for over 0.5 s"


async def test_the_event_loop_lag_is_exported(settlement: ServiceClient) -> None:
    await asyncio.sleep(0.1)
    metrics = (await settlement.get("/metrics")).text
    assert 'sib_event_loop_lag_seconds_bucket{le="0.005",service="settlement"}' in metrics
    assert 'sib_event_loop_lag_seconds_count{service="settlement"}' in metrics
    assert 'sib_event_loop_lag_last_seconds{service="settlement"}' in metrics


async def test_resamples_above_the_bound_are_refused_naming_the_field(settlement: ServiceClient) -> None:
    await load(settlement.app.state.database, 3)
    within = await settlement.get(OUTCOMES, params={"resamples": MAX_RESAMPLES}, headers=ADMIN)
    assert within.status_code == 200 and within.json()["effect_ci95"]["resamples"] == MAX_RESAMPLES
    above = await settlement.get(OUTCOMES, params={"resamples": MAX_RESAMPLES + 1}, headers=ADMIN)
    assert above.status_code == 422
    assert above.headers["content-type"].startswith("application/problem+json")
    assert [e["field"] for e in above.json()["errors"]] == ["resamples"]
