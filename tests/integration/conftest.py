"""Fixtures for in-process service tests: the real app, its lifespan, a real database and nats-server."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from libs.common.auth import Role, issue_token
from libs.common.db import outbox_table
from libs.common.events import CloudEvent
from services.intake.main import create_app
from services.intake.settings import IntakeSettings

SEED: dict[str, Any] = json.loads(
    (Path(__file__).resolve().parents[2] / "deploy" / "seed" / "hedensted-2022.json").read_text()
)


class ServiceClient(httpx.AsyncClient):
    app: Any


@pytest.fixture
async def intake(nats_url: str, database: dict[str, Any]) -> AsyncIterator[ServiceClient]:
    settings = IntakeSettings(sib_env="test", nats_url=nats_url, **database)
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with ServiceClient(transport=transport, base_url="http://intake") as client:
            client.app = app
            yield client


def auth(role: Role, *programmes: str, subject: str | None = None) -> dict[str, str]:
    token = issue_token(IntakeSettings(), role=role, programmes=programmes or ("*",), subject=subject)
    return {"Authorization": f"Bearer {token}"}


async def outbox_events(client: httpx.AsyncClient) -> list[CloudEvent]:
    database = client.app.state.database  # type: ignore[attr-defined]
    async with database.sessionmaker() as session:
        rows = (await session.execute(select(outbox_table.c.envelope).order_by(outbox_table.c.seq))).all()
    return [CloudEvent.model_validate_json(row[0]) for row in rows]
