"""Helpers for the fault tests: a jobcenter's traffic, direct reads of a service's database, the
stream's contents, and a TCP proxy in front of PostgreSQL that can be cut like a network outage."""

from __future__ import annotations

import asyncio
import contextlib
import json
import random
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import httpx
import nats
from sqlalchemy import func, select
from sqlalchemy.sql import Select

from deploy.local import REPO_ROOT
from libs.common.auth import Role
from libs.common.db import Database
from libs.common.devtoken import dev_token
from libs.common.nats import connect_options
from libs.common.settings import CommonSettings
from services.progression.settings import ProgressionSettings
from services.settlement.settings import SettlementSettings

SEED = REPO_ROOT / "deploy" / "seed" / "hedensted-2022.json"
CODES = [
    "employed",
    "employed",
    "education",
    "sygedagpenge",
    "kontanthjaelp",
    "a_dagpenge",
    "self_supporting",
]


def headers(role: Role, programmes: tuple[str, ...] = ("*",)) -> dict[str, str]:
    return {"Authorization": f"Bearer {dev_token(role, programmes)}"}


def synthetic_cpr(n: int) -> str:
    """A valid CPR number (real date, 7th digit in 1-3 for 19xx); modulus 11 is not checked."""
    day = date(1960, 1, 1) + timedelta(days=n * 37 % 10_000)
    return f"{day:%d%m%y}{1000 + n % 3000:04d}"


@dataclass
class Programme:
    programme_id: str
    participants: list[str] = field(default_factory=list)

    @property
    def jobcenter(self) -> dict[str, str]:
        return headers(Role.jobcenter, (self.programme_id,))


def create_programme(
    intake_url: str, programme_id: str, citizens: int, enrolled_on: str = "2024-01-15"
) -> Programme:
    body = json.loads(SEED.read_text()) | {"programme_id": programme_id}
    assert citizens <= body["terms"]["tracks"]["sygedagpenge"]
    created = httpx.post(f"{intake_url}/v1/programmes", json=body, headers=headers(Role.admin), timeout=30)
    assert created.status_code == 201, created.text
    programme = Programme(programme_id)
    with httpx.Client(base_url=intake_url, headers=programme.jobcenter, timeout=30) as client:
        for n in range(citizens):
            referred = client.post(
                "/v1/participants",
                json={
                    "programme_id": programme_id,
                    "cpr": synthetic_cpr(n),
                    "track": "sygedagpenge",
                    "referred_on": "2024-01-02",
                },
            )
            assert referred.status_code == 201, referred.text
            pid = referred.json()["participant_id"]
            enrolled = client.post(
                f"/v1/participants/{pid}/enrolment",
                json={"enrolled_on": enrolled_on, "consent_given_on": "2024-01-10"},
            )
            assert enrolled.status_code == 200, enrolled.text
            programme.participants.append(pid)
    return programme


def status_records(participants: list[str], per_participant: int, seed: int) -> list[dict[str, Any]]:
    """Monthly statuses from January 2024, plus late corrections of earlier months, interleaved the
    way a jobcenter's nightly batches would send them."""
    rng = random.Random(seed)
    records: list[dict[str, Any]] = []
    for pid in participants:
        for i in range(per_participant):
            month = i if rng.random() > 0.2 else rng.randrange(0, max(i, 1))  # ~20 % correct the past
            month %= 480  # many records per citizen stay inside the dates the API takes (up to 2100)
            start = date(2024 + month // 12, month % 12 + 1, 1)
            end = date(2024 + (month + 1) // 12, (month + 1) % 12 + 1, 1) - timedelta(days=1)
            if rng.random() < 0.3:  # part of a month
                start = start + timedelta(days=rng.randrange(0, 20))
            records.append(
                {
                    "participant_id": pid,
                    "code": rng.choice(CODES),
                    "valid_from": start.isoformat(),
                    "valid_to": end.isoformat(),
                }
            )
    rng.shuffle(records)
    return records


def settings_of(env: dict[str, str], service: str) -> CommonSettings:
    classes: dict[str, type[CommonSettings]] = {
        "progression": ProgressionSettings,
        "settlement": SettlementSettings,
    }
    cls = classes.get(service, CommonSettings)
    fields: dict[str, Any] = {"var_dir": Path(env["VAR_DIR"]), "nats_url": env["NATS_URL"]}
    if "DATABASE_URL" in env:
        fields |= {"database_url": env["DATABASE_URL"], "database_schema": env["DATABASE_SCHEMA"]}
    if service not in ("progression", "settlement"):
        fields["service_name"] = service
    return cls(**fields)


def scalar(settings: CommonSettings, query: Select[Any]) -> Any:
    async def run() -> Any:
        database = Database(settings)
        try:
            async with database.read_sessionmaker() as session:  # reads: no write lock
                return (await session.execute(query)).scalar_one()
        finally:
            await database.dispose()

    return asyncio.run(run())


def rows(settings: CommonSettings, query: Select[Any]) -> list[Any]:
    async def run() -> list[Any]:
        database = Database(settings)
        try:
            async with database.read_sessionmaker() as session:  # reads: no write lock
                return list((await session.execute(query)).all())
        finally:
            await database.dispose()

    return asyncio.run(run())


def count(settings: CommonSettings, table: Any, *where: Any) -> int:
    return int(scalar(settings, select(func.count()).select_from(table).where(*where)))


def stream_events(nats_url: str, stream: str = "SIB") -> list[tuple[str, bytes]]:
    """Every (subject, body) in the stream, in order."""

    async def run() -> list[tuple[str, bytes]]:
        operator = CommonSettings(nats_url=nats_url, nats_user="operator")
        client = await nats.connect(nats_url, **connect_options(operator))
        try:
            js = client.jetstream()
            info = await js.stream_info(stream)
            out: list[tuple[str, bytes]] = []
            seq = int(info.state.first_seq)
            while seq <= int(info.state.last_seq):
                with contextlib.suppress(nats.js.errors.NotFoundError):
                    raw = await js.get_msg(stream, seq)
                    out.append((str(raw.subject), raw.data or b""))
                seq += 1
            return out
        finally:
            await client.close()

    return asyncio.run(run())


def request_read_by_server(port: int) -> bool:
    """Whether every byte sent to 127.0.0.1:``port`` has been read by the process listening there: an
    established connection to it, and none with bytes waiting in either direction (Linux's
    /proc/net/tcp: tx_queue:rx_queue in hexadecimal)."""
    connections = 0
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        fields = line.split()
        local, remote, state, queues = fields[1], fields[2], fields[3], fields[4]
        if state != "01":  # ESTABLISHED
            continue
        if port not in (int(local.split(":")[1], 16), int(remote.split(":")[1], 16)):
            continue
        if any(int(queue, 16) for queue in queues.split(":")):
            return False
        connections += 1
    return connections > 0


def run_ops(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    import os

    return subprocess.run(
        [sys.executable, "-m", "deploy.ops", *args],
        cwd=REPO_ROOT,
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


class TcpProxy:
    """Forwards 127.0.0.1:<port> to a target; ``cut()`` drops every connection and refuses new ones
    (as a network outage would), ``restore()`` lets them through again."""

    def __init__(self, target: tuple[str, int]) -> None:
        self.target = target
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = int(self.listener.getsockname()[1])
        self.open = True
        self._sockets: set[socket.socket] = set()
        self._lock = threading.Lock()
        self._closed = False
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while not self._closed:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            if not self.open:
                client.close()
                continue
            try:
                upstream = socket.create_connection(self.target, timeout=5)
            except OSError:
                client.close()
                continue
            with self._lock:
                self._sockets |= {client, upstream}
            for a, b in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pump, args=(a, b), daemon=True).start()

    def _pump(self, source: socket.socket, sink: socket.socket) -> None:
        try:
            while data := source.recv(65536):
                sink.sendall(data)
        except OSError:
            pass
        finally:
            for s in (source, sink):
                with contextlib.suppress(OSError):
                    s.shutdown(socket.SHUT_RDWR)
                s.close()
            with self._lock:
                self._sockets -= {source, sink}

    def cut(self) -> None:
        self.open = False
        with self._lock:
            live = list(self._sockets)
        for s in live:
            with contextlib.suppress(OSError):
                s.shutdown(socket.SHUT_RDWR)

    def restore(self) -> None:
        self.open = True

    def close(self) -> None:
        self._closed = True
        self.cut()
        self.listener.close()


@contextlib.contextmanager
def background(target: Any) -> Iterator[threading.Thread]:
    thread = threading.Thread(target=target, daemon=True)
    thread.start()
    try:
        yield thread
    finally:
        thread.join(timeout=120)
