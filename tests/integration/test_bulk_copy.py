"""A BulkStatement made with ``copy=True`` goes in with COPY on PostgreSQL from ``copy_from_rows`` rows
on, and with the executemany below that (and always on SQLite); either way the rows stored are those
SQLAlchemy's own insert stores."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

import asyncpg  # type: ignore[import-untyped]
import pytest
from sqlalchemy import Column, Date, DateTime, Integer, MetaData, String, Table, insert, select

from libs.common.bulk import BulkStatement
from libs.common.clock import as_utc
from libs.common.db import Database
from libs.common.settings import CommonSettings
from tests.integration.conftest import create_tables

METADATA = MetaData()
TABLE = Table(
    "bulk_copy_rows",
    METADATA,
    Column("seq", Integer, primary_key=True, autoincrement=True),
    Column("name", String(40), nullable=False),
    Column("day", Date, nullable=True),
    Column("at", DateTime(timezone=True), nullable=False),
)
AT = datetime(2026, 12, 2, 13, 45, 3, 245710, tzinfo=UTC)


def rows(prefix: str, count: int) -> list[tuple[Any, ...]]:
    return [(f"{prefix}-{n}", date(2024, 1, 1 + n) if n % 2 else None, AT) for n in range(count)]


async def test_copy_from_a_number_of_rows_stores_what_sqlalchemy_stores(
    database: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = CommonSettings(service_name="bulkcopy", **database)
    copies: list[int] = []
    real_copy = asyncpg.Connection.copy_records_to_table

    async def counted(self: asyncpg.Connection, table_name: str, **kwargs: Any) -> Any:
        copies.append(len(kwargs["records"]))
        return await real_copy(self, table_name, **kwargs)

    monkeypatch.setattr(asyncpg.Connection, "copy_records_to_table", counted)
    db = Database(settings)
    statement = BulkStatement.insert(TABLE, ("name", "day", "at"), copy=True, copy_from_rows=3)
    try:
        await create_tables(db, METADATA)
        async with db.sessionmaker() as session:
            await statement.run(session, rows("few", 2))
            await statement.run(session, rows("many", 3))
            names = ("name", "day", "at")
            await session.execute(
                insert(TABLE), [dict(zip(names, row, strict=True)) for row in rows("core", 3)]
            )
            await session.commit()
        assert copies == ([3] if settings.is_postgres else [])
        async with db.sessionmaker() as session:
            stored = (await session.execute(select(TABLE).order_by(TABLE.c.seq))).all()
        assert [row.seq for row in stored] == list(range(1, 9))  # numbered in the order written
        by_name = {row.name: (row.day, row.at) for row in stored}
        for n in range(3):
            assert by_name[f"many-{n}"] == by_name[f"core-{n}"]
        for n in range(2):
            assert by_name[f"few-{n}"] == by_name[f"core-{n}"]
        assert as_utc(by_name["many-2"][1]) == AT  # SQLite reads it back without its zone
    finally:
        await db.dispose()
