"""The recompute writes participant_months through one DBAPI executemany of tuples (BulkStatement);
what it stores must be exactly what SQLAlchemy itself stores for the same values (SQLite keeps dates,
timestamps and amounts as text, so a different format would compare and sort wrongly)."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any, cast

from sqlalchemy import Table, insert, select, update

from libs.common.db import Database
from libs.common.settings import CommonSettings
from services.settlement.models import Base, MonthRow
from services.settlement.repository import MONTH_ROW, MonthRepository
from tests.integration.conftest import create_tables

TABLE = cast(Table, MonthRow.__table__)
NOW = datetime(2026, 12, 1, 7, 58, 1, 123456, tzinfo=UTC)


def month_row(participant_id: str, month: str, fee: str, cutoff: date | None) -> tuple[Any, ...]:
    values = ("prog", 30, 20, 10, 0, False, Decimal(fee), "full_month", Decimal("3500"), 1, cutoff, NOW)
    return (participant_id, month, *values)


async def test_bulk_month_rows_are_stored_as_sqlalchemy_stores_them(database: dict[str, Any]) -> None:
    settings = CommonSettings(service_name="months", **database)
    db = Database(settings)
    try:
        await create_tables(db, Base.metadata, tables=[TABLE])
        bulk = [
            month_row("p-bulk", "2024-03", "1919.35", date(2024, 7, 31)),
            month_row("p-bulk", "2024-04", "0.1", None),
        ]
        plain = [month_row("p-core", "2024-03", "1919.35", date(2024, 7, 31)), month_row("p-core", "2024-04", "0.1", None)]  # fmt: skip
        async with db.sessionmaker() as session:
            await MonthRepository(session).insert_many(bulk)
            await session.execute(insert(TABLE), [dict(zip(MONTH_ROW, row, strict=True)) for row in plain])
            await session.commit()
        # As the database holds them (text on SQLite), column by column.
        stored: dict[tuple[str, str], list[str]] = {}
        async with db.engine.connect() as connection:
            for row in await connection.exec_driver_sql(
                "SELECT participant_id, month, programme_id, in_window_days, self_supporting_days,"
                " public_support_days, unknown_days, provisional, fee_dkk, rule, fee_per_month_dkk,"
                " terms_version, cutoff_used, computed_at FROM participant_months"
            ):
                values = [str(value) for value in row]
                stored[(values[0], values[1])] = values[2:]
        for month in ("2024-03", "2024-04"):
            assert stored[("p-bulk", month)] == stored[("p-core", month)]
        assert stored[("p-bulk", "2024-04")][6] in ("0.10", "0.1")  # the fee, quantized to øre
        # An update by key stores the same as SQLAlchemy's update.
        changed = month_row("p-bulk", "2024-04", "3500", date(2024, 8, 31))
        async with db.sessionmaker() as session:
            await MonthRepository(session).update_many([changed])
            await session.execute(
                update(TABLE)
                .where(TABLE.c.participant_id == "p-core", TABLE.c.month == "2024-04")
                .values(dict(zip(MONTH_ROW[2:], changed[2:], strict=True)))
            )
            await session.commit()
        async with db.sessionmaker() as session:
            rows = {
                (r.participant_id, r.month): r
                for r in (await session.scalars(select(MonthRow).where(MonthRow.month == "2024-04"))).all()
            }
        bulk_row, core_row = rows[("p-bulk", "2024-04")], rows[("p-core", "2024-04")]
        assert bulk_row.fee_dkk == core_row.fee_dkk == Decimal("3500.00")
        assert bulk_row.cutoff_used == core_row.cutoff_used == date(2024, 8, 31)
        assert bulk_row.computed_at == core_row.computed_at
        async with db.engine.connect() as connection:
            texts = list(
                await connection.exec_driver_sql(
                    "SELECT participant_id, fee_dkk, cutoff_used, computed_at FROM participant_months"
                    " WHERE month = '2024-04' ORDER BY participant_id"
                )
            )
        assert [row[0] for row in texts] == ["p-bulk", "p-core"]
        assert [str(value) for value in list(texts[0])[1:]] == [str(value) for value in list(texts[1])[1:]]
    finally:
        await db.dispose()
