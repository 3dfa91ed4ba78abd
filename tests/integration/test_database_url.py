"""A DATABASE_URL's libpq ``sslmode`` reaches asyncpg on a real connection: ``disable`` connects,
``require`` is refused by a server without TLS (the test machine's), ``verify-full`` wants a root
certificate (PGSSLROOTCERT, else ~/.postgresql/root.crt)."""

from __future__ import annotations

from pathlib import Path

import asyncpg  # type: ignore[import-untyped]
import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from libs.common.db import create_engine
from libs.common.settings import CommonSettings
from tests.conftest import PG_URL, postgres_available

pytestmark = pytest.mark.postgres


async def select_one(url: str) -> int:
    engine = create_engine(CommonSettings(database_url=url))
    try:
        async with engine.connect() as connection:
            return int((await connection.execute(text("SELECT 1"))).scalar_one())
    finally:
        await engine.dispose()


async def test_sslmode_in_the_database_url_is_what_asyncpg_connects_with(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    if not postgres_available():
        pytest.skip("PostgreSQL does not answer at 127.0.0.1:5432")
    async with asyncpg.create_pool(PG_URL, min_size=1, max_size=1) as pool:
        server_tls = await pool.fetchval("SHOW ssl")
    assert await select_one(f"{PG_URL}?sslmode=disable") == 1
    if server_tls == "on":
        assert await select_one(f"{PG_URL}?sslmode=require") == 1
    else:
        with pytest.raises(ConnectionError, match="SSL"):
            await select_one(f"{PG_URL}?sslmode=require")
    monkeypatch.setenv("HOME", str(tmp_path))  # no ~/.postgresql/root.crt
    monkeypatch.delenv("PGSSLROOTCERT", raising=False)
    with pytest.raises(DBAPIError, match="root certificate"):
        await select_one(f"{PG_URL}?sslmode=verify-full")
