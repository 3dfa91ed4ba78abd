"""The one mapping of errors to problem+json, on a minimal app."""

from __future__ import annotations

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy.exc import DBAPIError, OperationalError

from libs.common.errors import Conflict, install_problem_handlers


def app_raising(exc: Exception) -> FastAPI:
    app = FastAPI()
    install_problem_handlers(app)

    @app.get("/boom")
    async def boom() -> None:
        raise exc

    return app


async def call(app: FastAPI) -> httpx.Response:
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
        return await client.get("/boom")


@pytest.mark.parametrize(
    "exc",
    [
        OperationalError("SELECT 1", {}, ConnectionRefusedError("refused")),
        ConnectionRefusedError("refused"),
        TimeoutError("refused: connecting timed out"),
        DBAPIError("SELECT 1", {}, RuntimeError("refused"), connection_invalidated=True),
    ],
)
async def test_an_unreachable_database_is_a_503_with_retry_after(exc: Exception) -> None:
    response = await call(app_raising(exc))
    assert response.status_code == 503
    assert response.headers["Retry-After"] == "5"
    assert response.headers["content-type"] == "application/problem+json"
    assert "refused" not in response.text and "SELECT" not in response.text


async def test_an_unexpected_error_is_a_500_problem_that_leaks_nothing() -> None:
    response = await call(app_raising(RuntimeError("secret detail 0101901234")))
    assert response.status_code == 500
    assert response.headers["content-type"] == "application/problem+json"
    assert "secret" not in response.text and "0101901234" not in response.text


async def test_a_database_error_on_a_live_connection_is_a_500_not_an_outage() -> None:
    response = await call(app_raising(DBAPIError("SELECT 1", {}, RuntimeError("syntax"))))
    assert response.status_code == 500 and "SELECT" not in response.text


async def test_a_problem_error_keeps_its_status_and_extensions() -> None:
    response = await call(app_raising(Conflict("Already there.", participant_id="p-1")))
    assert response.status_code == 409 and response.json()["participant_id"] == "p-1"


async def test_a_body_that_is_not_utf8_is_a_422_naming_the_body() -> None:
    """FastAPI answers a body it cannot decode with a bare 400; bad input is a 422 naming the field."""
    app = FastAPI()
    install_problem_handlers(app)

    @app.post("/things")
    async def things(body: dict[str, int]) -> None:
        return None

    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
        response = await client.post(
            "/things", content=b"\xff\xfe{", headers={"Content-Type": "application/json"}
        )
    assert response.status_code == 422
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["errors"] == [
        {"field": "body", "in": "body", "message": "could not be read as JSON (UTF-8)"}
    ]
