"""The whole system as real processes: nats-server and the three services under uvicorn."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from deploy.local import SERVICES, Process, free_port, start_nats, start_service, wait_ready
from deploy.postgres import drop_roles
from tests.conftest import PG_URL, postgres_available
from tests.pg_roles import service_role


@dataclass
class Stack:
    tmp: Path
    nats_port: int
    nats: Process
    env: dict[str, dict[str, str]]
    urls: dict[str, str] = field(default_factory=dict)
    processes: dict[str, Process] = field(default_factory=dict)
    roles: list[str] = field(default_factory=list)  # PostgreSQL: one per service, dropped at the end

    def own_database(self, service: str, schema: str) -> dict[str, str]:
        """PostgreSQL: the environment of another instance of ``service``, a role of its own owning
        ``schema``."""
        self.roles.append(schema)
        return {"DATABASE_URL": service_role(PG_URL, service, schema), "DATABASE_SCHEMA": schema}

    def start(self, *names: str) -> None:
        """Start the services together (each reads the others only once it serves requests) and wait
        until every one is ready: on two cores, three at once are up in about half the time."""
        for name in names:  # the ports first: each service is told where the others are
            if name not in self.urls:
                self.urls[name] = f"http://127.0.0.1:{free_port()}"
        for name in names:
            # Where each service reads another's API (progression: intake; settlement: progression;
            # intake: both).
            if name == "progression" and "intake" in self.urls:
                self.env[name]["INTAKE_URL"] = self.urls["intake"]
            if name == "settlement" and "progression" in self.urls:
                self.env[name]["PROGRESSION_URL"] = self.urls["progression"]
            if name == "intake":  # the access export reads both others
                for peer in ("progression", "settlement"):
                    if peer in self.urls:
                        self.env[name][f"{peer.upper()}_URL"] = self.urls[peer]
            port = int(self.urls[name].rsplit(":", 1)[1])
            self.processes[name] = start_service(name, port, self.env[name], self.log(name))
        for name in names:
            wait_ready(self.urls[name], self.processes[name], timeout=30)

    def log(self, name: str) -> Path:
        return self.tmp / f"{name}.log"

    def log_records(self, name: str) -> list[dict[str, Any]]:
        records = []
        for line in self.log(name).read_text().splitlines():
            if line.startswith("{"):
                records.append(json.loads(line))
        return records

    def stop_nats(self) -> None:
        self.nats.stop()

    def start_nats(self) -> None:
        self.nats = start_nats("127.0.0.1", self.nats_port, self.tmp / "nats", self.tmp / "nats-server.log")


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def stack(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Stack]:
    yield from make_stack(request.param, tmp_path)


def make_stack(backend: str, tmp_path: Path, database_url: dict[str, str] | None = None) -> Iterator[Stack]:
    """nats-server and the three services; ``database_url`` overrides a service's DATABASE_URL (its
    host and port: the user is the service's role)."""
    if backend == "postgresql" and not postgres_available():
        pytest.skip("PostgreSQL does not answer at 127.0.0.1:5432")
    nats_port = free_port()
    nats = start_nats("127.0.0.1", nats_port, tmp_path / "nats", tmp_path / "nats-server.log")
    prefix = f"e2e_{uuid.uuid4().hex[:8]}"
    env: dict[str, dict[str, str]] = {}
    for name in SERVICES:
        env[name] = {
            "SIB_ENV": "test",
            "NATS_URL": f"nats://127.0.0.1:{nats_port}",
            "VAR_DIR": str(tmp_path / "var"),
            "CONSUMER_ACK_WAIT_SECONDS": "5",
        }
        if backend == "postgresql":  # as a role of its own (named after its schema), which owns it
            env[name] |= {
                "DATABASE_URL": service_role(
                    PG_URL, name, f"{prefix}_{name}", (database_url or {}).get(name)
                ),
                "DATABASE_SCHEMA": f"{prefix}_{name}",
            }
    stack = Stack(tmp_path, nats_port, nats, env)
    stack.roles += [e["DATABASE_SCHEMA"] for e in env.values() if "DATABASE_SCHEMA" in e]
    try:
        stack.start(*SERVICES)
        yield stack
    finally:
        for process in stack.processes.values():
            process.stop()
        stack.nats.stop()
        if backend == "postgresql":
            import asyncio

            from tests.conftest import _drop_schemas_like

            asyncio.run(drop_roles(PG_URL, stack.roles))  # with every schema they own
            asyncio.run(_drop_schemas_like(prefix))  # any made by the administrator
