"""Fixtures for in-process service tests: the real app, its lifespan, a real database and nats-server."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import MetaData, Table, select

from libs.common.auth import Role
from libs.common.db import Database, outbox_table
from libs.common.devtoken import dev_token
from libs.common.events import CloudEvent
from libs.common.migrations import ensure_schema
from libs.common.outbox import ERASED_ENVELOPE
from services.intake.main import create_app
from services.intake.settings import IntakeSettings
from services.progression.main import create_app as create_progression_app
from services.progression.settings import ProgressionSettings
from services.settlement.main import create_app as create_settlement_app
from services.settlement.settings import SettlementSettings
from tests.pg_roles import beside

SEED: dict[str, Any] = json.loads(
    (Path(__file__).resolve().parents[2] / "deploy" / "seed" / "hedensted-2022.json").read_text()
)


# Routes every service has (libs/common/app.py, libs/common/admin.py), for the role x route matrices.
UNAUTHENTICATED_ROUTES = frozenset(
    {
        ("GET", "/healthz"),
        ("GET", "/readyz"),
        ("GET", "/metrics"),
        ("GET", "/asyncapi.yaml"),
        ("GET", "/asyncapi.json"),
    }
)
ADMIN_ROUTES: dict[tuple[str, str], frozenset[Role]] = {
    ("GET", "/v1/admin/dead-letters"): frozenset({Role.admin}),
    ("POST", "/v1/admin/dead-letters/redrive"): frozenset({Role.admin}),
    # Not an operator route: the read audit (libs/common/readaudit), also in every service.
    ("GET", "/v1/audit/reads"): frozenset({Role.jobcenter, Role.auditor}),
}


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
    token = dev_token(role, programmes or ("*",), subject)
    return {"Authorization": f"Bearer {token}"}


async def create_tables(db: Database, *metadatas: MetaData, tables: list[Table] | None = None) -> None:
    """The tables of ``metadatas`` (or only ``tables``) in a test's fresh database, its PostgreSQL schema
    made first."""
    async with db.engine.begin() as connection:
        if db.settings.is_postgres:
            await ensure_schema(connection, db.settings.resolved_database_schema)
        for metadata in metadatas:
            await connection.run_sync(metadata.create_all, tables=tables)


async def outbox_events(client: httpx.AsyncClient) -> list[CloudEvent]:
    database = client.app.state.database  # type: ignore[attr-defined]
    async with database.sessionmaker() as session:
        rows = (await session.execute(select(outbox_table.c.envelope).order_by(outbox_table.c.seq))).all()
    # An erasure leaves a published event's row without its content (libs/common/outbox.py).
    return [CloudEvent.model_validate_json(row[0]) for row in rows if row[0] != ERASED_ENVELOPE]


class Later:
    """An ASGI app named after it is made, for services that call each other (intake's export calls
    progression, which calls intake): ``httpx.ASGITransport(app=later)``, then ``later.app = app``."""

    app: Any = None

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        await self.app(scope, receive, send)


@dataclass
class Pair:
    intake: ServiceClient
    progression: ServiceClient


@asynccontextmanager
async def running(app: Any, base_url: str) -> AsyncIterator[ServiceClient]:
    async with app.router.lifespan_context(app):
        async with ServiceClient(transport=httpx.ASGITransport(app=app), base_url=base_url) as client:
            client.app = app
            yield client


def progression_database(database: dict[str, Any]) -> dict[str, Any]:
    """Its own SQLite file, or its own PostgreSQL schema and role beside intake's."""
    return beside(database, "_p")


@asynccontextmanager
async def intake_and_progression(
    intake_nats: str, progression_nats: str, database: dict[str, Any]
) -> AsyncIterator[Pair]:
    intake_app = create_app(IntakeSettings(sib_env="test", nats_url=intake_nats, **database))
    async with running(intake_app, "http://intake") as intake_client:
        progression_app = create_progression_app(
            ProgressionSettings(sib_env="test", nats_url=progression_nats, **progression_database(database)),
            intake_transport=httpx.ASGITransport(app=intake_app),
        )
        async with running(progression_app, "http://progression") as progression_client:
            yield Pair(intake_client, progression_client)


@pytest.fixture
async def pair(nats_url: str, database: dict[str, Any]) -> AsyncIterator[Pair]:
    """Intake and progression sharing one nats-server: progression learns from intake's events."""
    async with intake_and_progression(nats_url, nats_url, database) as both:
        yield both


async def eventually(check: Callable[[], Awaitable[bool]], timeout: float = 10.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not await check():
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError("condition not met in time")
        await asyncio.sleep(0.05)


@dataclass
class Trio:
    intake: ServiceClient
    progression: ServiceClient
    settlement: ServiceClient


@pytest.fixture
async def trio(nats_url: str, database: dict[str, Any]) -> AsyncIterator[Trio]:
    """The three services in-process on one nats-server, each with its own database."""
    async with intake_and_progression(nats_url, nats_url, database) as both:
        app = create_settlement_app(
            SettlementSettings(sib_env="test", nats_url=nats_url, **beside(database, "_s"))
        )
        async with running(app, "http://settlement") as settlement:
            yield Trio(both.intake, both.progression, settlement)
