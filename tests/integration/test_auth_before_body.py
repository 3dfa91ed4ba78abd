"""A request without a valid token is refused before its body is read: an unauthenticated client
cannot make a service read (or a route parse) megabytes."""

from __future__ import annotations

import json
from collections.abc import MutableMapping
from typing import Any

import pytest

from libs.common.auth import Role
from services.intake.main import create_app
from services.intake.settings import IntakeSettings
from tests.integration.conftest import auth

FORTY_MIB = 40 * 1024 * 1024


async def call(
    headers: list[tuple[bytes, bytes]], path: str = "/v1/participants"
) -> tuple[int, int, dict[str, Any]]:
    """POST to intake's app at the ASGI level; (status, body chunks the app asked for, problem)."""
    app = create_app(IntakeSettings(sib_env="test"))
    asked = 0
    sent: list[MutableMapping[str, Any]] = []

    async def receive() -> dict[str, Any]:
        nonlocal asked
        asked += 1
        return {"type": "http.request", "body": b"x" * 65536, "more_body": asked * 65536 < FORTY_MIB}

    async def send(message: MutableMapping[str, Any]) -> None:
        sent.append(message)

    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "root_path": "",
        "headers": [(b"content-type", b"application/json"), *headers],
        "client": ("127.0.0.1", 1),
        "server": ("127.0.0.1", 80),
    }
    await app(scope, receive, send)
    start = next(m for m in sent if m["type"] == "http.response.start")
    body = b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")
    return start["status"], asked, json.loads(body)


@pytest.mark.parametrize(
    "headers",
    [
        pytest.param([(b"content-length", str(FORTY_MIB).encode())], id="declared-40-MiB"),
        pytest.param([(b"transfer-encoding", b"chunked")], id="streamed-40-MiB"),
        pytest.param([(b"authorization", b"Bearer not-a-token")], id="invalid-token"),
        pytest.param([(b"authorization", b"Basic dXNlcjpwYXNz")], id="not-bearer"),
    ],
)
async def test_no_valid_token_no_body_read(headers: list[tuple[bytes, bytes]]) -> None:
    status, asked, problem = await call(headers)
    assert status == 401, problem
    assert asked == 0  # not one chunk of the body was read
    assert problem["status"] == 401


async def test_a_valid_token_with_too_large_a_body_is_a_413_without_reading_it() -> None:
    token = auth(Role.jobcenter, "hedensted-2022")["Authorization"].encode()
    status, asked, problem = await call(
        [(b"authorization", token), (b"content-length", str(FORTY_MIB).encode())]
    )
    assert (status, asked) == (413, 0), problem


async def test_health_stays_open_without_a_token() -> None:
    app = create_app(IntakeSettings(sib_env="test"))
    sent: list[MutableMapping[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: MutableMapping[str, Any]) -> None:
        sent.append(message)

    scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "GET", "scheme": "http",
             "path": "/healthz", "raw_path": b"/healthz", "query_string": b"", "root_path": "", "headers": [],
             "client": ("127.0.0.1", 1), "server": ("127.0.0.1", 80)}  # fmt: skip
    await app(scope, receive, send)
    assert next(m for m in sent if m["type"] == "http.response.start")["status"] == 200
