"""Production may take the API documentation off the public port and serve metrics on a port of
their own."""

from __future__ import annotations

from typing import Any

import httpx

from deploy.local import free_port
from services.intake.main import create_app
from services.intake.settings import IntakeSettings
from tests.integration.conftest import running


async def test_metrics_on_their_own_port_and_no_docs_on_the_public_one(
    nats_url: str, database: dict[str, Any]
) -> None:
    port = free_port()
    settings = IntakeSettings(
        sib_env="test", nats_url=nats_url, public_docs=False, metrics_port=port, **database
    )
    async with running(create_app(settings), "http://intake") as intake:
        for path in ("/metrics", "/docs", "/openapi.json"):
            assert (await intake.get(path)).status_code == 404, path
        assert (await intake.get("/healthz")).status_code == 200
        async with httpx.AsyncClient() as client:
            metrics = await client.get(f"http://127.0.0.1:{port}/metrics")
        assert metrics.status_code == 200 and "sib_http_requests_total" in metrics.text
    async with httpx.AsyncClient() as client:  # closed with the service
        try:
            await client.get(f"http://127.0.0.1:{port}/metrics", timeout=1)
            closed = False
        except httpx.HTTPError:
            closed = True
    assert closed


async def test_by_default_both_are_on_the_public_port(nats_url: str, database: dict[str, Any]) -> None:
    settings = IntakeSettings(sib_env="test", nats_url=nats_url, **database)
    async with running(create_app(settings), "http://intake") as intake:
        assert (await intake.get("/metrics")).status_code == 200
        assert (await intake.get("/openapi.json")).status_code == 200
