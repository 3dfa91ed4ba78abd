from __future__ import annotations

import httpx
import yaml
from fastapi import FastAPI

from libs.common.app import _operations_router
from libs.common.asyncapi import build_asyncapi
from libs.common.settings import CommonSettings


def operations_app(settings: CommonSettings) -> FastAPI:
    app = FastAPI()
    app.state.settings = settings
    app.include_router(_operations_router(metrics_on_public_port=True))
    return app


async def get(app: FastAPI, path: str) -> httpx.Response:
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://svc") as client:
        return await client.get(path)


async def test_each_service_serves_the_asyncapi_document_as_yaml() -> None:
    response = await get(operations_app(CommonSettings(service_name="x")), "/asyncapi.yaml")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/yaml")
    assert yaml.safe_load(response.text) == build_asyncapi("sib", "SIB")


async def test_each_service_serves_the_asyncapi_document_as_json() -> None:
    response = await get(operations_app(CommonSettings(service_name="x")), "/asyncapi.json")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/json")
    assert response.json() == build_asyncapi("sib", "SIB")


async def test_the_served_document_follows_the_service_settings() -> None:
    app = operations_app(CommonSettings(service_name="x", subject_prefix="acme", nats_stream="ACME"))
    expected = build_asyncapi("acme", "ACME")
    assert yaml.safe_load((await get(app, "/asyncapi.yaml")).text) == expected
    assert (await get(app, "/asyncapi.json")).json() == expected
    assert expected != build_asyncapi()
