"""Money columns keep DKK exact on SQLite and PostgreSQL (never a binary float)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import Column, Integer, MetaData, Table, insert, select

from libs.common.db import Database, Money
from libs.common.settings import CommonSettings
from tests.integration.conftest import create_tables

metadata = MetaData()
amounts = Table("amounts", metadata, Column("id", Integer, primary_key=True), Column("dkk", Money()))


async def test_money_round_trips_exactly(database: dict[str, Any]) -> None:
    settings_ = CommonSettings(service_name="money", **database)
    db = Database(settings_)
    values = [
        Decimal("123456789012.35"),
        Decimal("0.10"),
        Decimal("-3500.00"),
        Decimal("1919.35"),
        Decimal("0.01"),
    ]
    try:
        await create_tables(db, metadata)
        async with db.engine.begin() as connection:
            await connection.execute(insert(amounts), [{"id": n, "dkk": v} for n, v in enumerate(values)])
            back = [row[0] for row in await connection.execute(select(amounts.c.dkk).order_by(amounts.c.id))]
        assert back == values
        assert all(isinstance(v, Decimal) and v.as_tuple().exponent == -2 for v in back)
    finally:
        await db.dispose()


@settings(max_examples=200)
@given(st.decimals(min_value=-(10**12), max_value=10**12, places=2))
def test_money_binds_and_reads_without_losing_an_ore(amount: Decimal) -> None:
    from sqlalchemy.dialects import sqlite

    column = Money()
    dialect = sqlite.dialect()
    stored = column.process_bind_param(amount, dialect)
    assert isinstance(stored, str)
    assert column.process_result_value(stored, dialect) == amount
