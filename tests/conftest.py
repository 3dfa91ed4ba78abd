"""Shared fixtures: a real nats-server per test on a free port, a real database (SQLite, plus
PostgreSQL at 127.0.0.1:5432 when it answers; skipped with a reason otherwise), and a development token
issuer per test process, served over HTTP, whose JWKS every service of the tests verifies against."""

from __future__ import annotations

import os
import shutil
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from deploy.local import drop_schemas, free_port, port_answers, start_nats
from deploy.nats_auth import UNRESTRICTED
from libs.common.devtoken import DevelopmentIssuer, IssuerServer
from tests.pg_roles import service_roles

PG_HOST, PG_PORT = "127.0.0.1", 5432
PG_URL = os.environ.get("SIB_TEST_POSTGRES_URL", f"postgresql://postgres@{PG_HOST}:{PG_PORT}/test")


# One secret for every service client of the test issuer: the in-process services of a test share
# one environment (OIDC_CLIENT_SECRET). The e2e stack's processes get the same.
TEST_CLIENT_SECRET = "test-service-client-secret-for-the-suite"
TEST_NATS_PASSWORD = "test-nats-password-for-every-user"
# The messaging machinery's own tests run a made-up service, testsvc, that makes its own streams and
# consumers: the tests' servers give it every right. The platform's users keep theirs.
TEST_USERS = {"testsvc": UNRESTRICTED}
_issuer_server: IssuerServer | None = None
_issuer_dir: Path | None = None


def pytest_configure(config: pytest.Config) -> None:
    """Before collection, since test modules build settings at import: the issuer's URL and key
    directory go into the environment that settings, ``dev_token`` and started processes read."""
    global _issuer_server, _issuer_dir
    _issuer_dir = Path(tempfile.mkdtemp(prefix="sib-test-issuer-"))
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    issuer = DevelopmentIssuer.load_or_create(_issuer_dir, url, client_secret=TEST_CLIENT_SECRET)
    _issuer_server = IssuerServer(issuer, "127.0.0.1", port).start()
    os.environ["OIDC_ISSUER"] = url
    os.environ["DEV_ISSUER_DIR"] = str(_issuer_dir)
    os.environ["OIDC_CLIENT_SECRET"] = TEST_CLIENT_SECRET
    # Every NATS user of the tests' servers has this password (deploy.local.start_nats); each service
    # connects as its own user, with its own permissions.
    os.environ["NATS_PASSWORD"] = TEST_NATS_PASSWORD


def pytest_unconfigure(config: pytest.Config) -> None:
    if _issuer_server is not None:
        _issuer_server.stop()
    if _issuer_dir is not None:
        shutil.rmtree(_issuer_dir, ignore_errors=True)


_RUNS_ON = ("database", "stack")


def _runs_on(item: pytest.Item) -> set[object]:
    """The databases (or stacks) a test is run on: its fixtures' params, whichever of them this run
    selected (a node id names one)."""
    found: set[object] = set()
    callspec = getattr(item, "callspec", None)
    if callspec is not None:
        found |= {callspec.params[name] for name in _RUNS_ON if name in callspec.params}
    fixtureinfo = getattr(item, "_fixtureinfo", None)  # pytest keeps no public map of a test's fixtures
    for name in _RUNS_ON:
        for fixturedef in fixtureinfo.name2fixturedefs.get(name, ()) if fixtureinfo else ():
            for param in fixturedef.params or ():
                found.add(param.values[0] if isinstance(param, pytest.ParameterSet) else param)
    return found


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """``slow_on("postgresql")`` makes that database's run of a test ``slow``; it runs before the
    ``-m`` selection (tryfirst) so that selection sees the mark. A value the test never runs on is a
    usage error, not a mark that silently does nothing."""
    for item in items:
        named = {value for mark in item.iter_markers("slow_on") for value in mark.args}
        if not named:
            continue
        if unknown := named - _runs_on(item):
            raise pytest.UsageError(
                f"{item.nodeid}: slow_on({', '.join(sorted(map(repr, unknown)))}) names no database or "
                "stack the test runs on"
            )
        callspec = getattr(item, "callspec", None)
        if callspec is None:
            continue
        databases = {callspec.params.get("database"), callspec.params.get("stack")}
        if databases & named:
            item.add_marker(pytest.mark.slow)


def issuer_for_tests() -> DevelopmentIssuer:
    assert _issuer_dir is not None
    return DevelopmentIssuer.load_or_create(_issuer_dir)


def postgres_available() -> bool:
    return port_answers(PG_HOST, PG_PORT)


@pytest.fixture
def nats_url(tmp_path: Path) -> Iterator[str]:
    """A nats-server of the test's own with JetStream, never the machine's on 4222."""
    port = free_port()
    process = start_nats(
        "127.0.0.1", port, tmp_path / "nats", tmp_path / "nats-server.log", extra_users=TEST_USERS
    )
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


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    """The API fuzzer's figures (tests/integration/test_api_fuzz.py), one line per service and role, so
    a CI log shows how many cases it sent and how long it took; also under pytest-xdist, whose workers'
    output is not shown (the figures travel in the reports' user properties)."""
    lines = [
        str(value)
        for reports in terminalreporter.stats.values()
        for report in reports
        if getattr(report, "when", None) == "call"
        for name, value in getattr(report, "user_properties", ())
        if name == "api-fuzz"
    ]
    if lines:
        terminalreporter.section("API fuzzer")
        for line in lines:
            terminalreporter.write_line(line)
