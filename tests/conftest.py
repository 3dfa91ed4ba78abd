"""Shared fixtures: a real nats-server per test on a free port, and a real database (SQLite, plus
PostgreSQL at 127.0.0.1:5432 when it answers; skipped with a reason otherwise)."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from deploy.local import drop_schemas, free_port, port_answers, start_nats
from tests.pg_roles import service_roles

PG_HOST, PG_PORT = "127.0.0.1", 5432
PG_URL = os.environ.get("SIB_TEST_POSTGRES_URL", f"postgresql://postgres@{PG_HOST}:{PG_PORT}/test")


def postgres_available() -> bool:
    return port_answers(PG_HOST, PG_PORT)


@pytest.fixture
def nats_url(tmp_path: Path) -> Iterator[str]:
    """A nats-server of the test's own with JetStream, never the machine's on 4222."""
    port = free_port()
    process = start_nats("127.0.0.1", port, tmp_path / "nats", tmp_path / "nats-server.log")
    try:
        yield f"nats://127.0.0.1:{port}"
    finally:
        process.stop()


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def database(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[dict[str, object]]:
    """Settings fragments for a fresh database: a SQLite file, or a PostgreSQL schema of its own and a
    role that owns it (tests.pg_roles.beside gives the other services theirs)."""
    if request.param == "sqlite":
        yield {"database_url": None, "var_dir": tmp_path / "var"}
        return
    if not postgres_available():
        pytest.skip(f"PostgreSQL does not answer at {PG_HOST}:{PG_PORT}")
    schema = f"t_{uuid.uuid4().hex[:12]}"
    with service_roles(PG_URL, schema) as url:
        yield {"database_url": url, "database_schema": schema, "var_dir": tmp_path / "var"}


async def _drop_schema(schema: str) -> None:
    await drop_schemas(PG_URL, [schema])


async def _drop_schemas_like(prefix: str) -> None:
    await drop_schemas(PG_URL, like=prefix)
