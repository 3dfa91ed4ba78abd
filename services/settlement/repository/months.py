"""Participants' computed months: written in bulk by the recompute, read by the routes and summaries."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from decimal import Decimal
from typing import Any, cast

from sqlalchemy import String, Table, bindparam, delete, insert, select, type_coerce, update
from sqlalchemy.ext.asyncio import AsyncSession

from libs.common.bulk import BulkStatement, memoised
from libs.common.db import ORE
from services.settlement.models import (
    MonthRow,
)

# participant_months' computed columns, in the order ``figures_of`` returns them.
MONTH_VALUES = (
    "in_window_days",
    "self_supporting_days",
    "public_support_days",
    "unknown_days",
    "provisional",
    "fee_dkk",
    "rule",
    "fee_per_month_dkk",
    "terms_version",
    "cutoff_used",
)


# A stored month's computed columns, in ``MONTH_VALUES`` order, amounts as Decimals: a plain tuple, as
# the recompute compares every stored month with its computed values
# (docs/performance.md#named-state-issue-26-2026-12-06).
StoredFigures = tuple[int, int, int, int, bool, Decimal, str, Decimal, int, date | None]


_months = cast(Table, MonthRow.__table__)
# A month row as the recompute hands it over: every column of participant_months, in this order.
MONTH_ROW = ("participant_id", "month", "programme_id", *MONTH_VALUES, "computed_at")
_DELETE_MONTH = delete(_months).where(
    _months.c.participant_id == bindparam("key_participant_id"), _months.c.month == bindparam("key_month")
)


_AMOUNTS = ("fee_dkk", "fee_per_month_dkk")


def _to_amount(value: Any) -> Decimal:
    """A stored amount (text on SQLite, numeric on PostgreSQL) as Money reads it back."""
    return Decimal(str(value)).quantize(ORE)


_INSERT_MONTHS = BulkStatement(
    insert(_months).values({name: bindparam(name) for name in MONTH_ROW}),
    {name: index for index, name in enumerate(MONTH_ROW)},
    copy_into=_months.name,
)
_UPDATE_MONTHS = BulkStatement(
    update(_months)
    .where(
        _months.c.participant_id == bindparam("key_participant_id"), _months.c.month == bindparam("key_month")
    )
    .values({name: bindparam(f"new_{name}") for name in MONTH_ROW[2:]}),
    {"key_participant_id": 0, "key_month": 1}
    | {f"new_{name}": MONTH_ROW.index(name) for name in MONTH_ROW[2:]},
)


class MonthRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def figures_of(
        self, participant_ids: Sequence[str], between: tuple[str, str] | None = None
    ) -> dict[str, dict[str, StoredFigures]]:
        """Per participant and month (``YYYY-MM``) the stored figures; with ``between`` only the months in that range (inclusive)."""
        # The two amounts come raw and are made Decimals once per distinct value (as Money would).
        columns = [
            type_coerce(_months.c[name], String) if name in _AMOUNTS else _months.c[name]
            for name in MONTH_VALUES
        ]
        query = select(_months.c.participant_id, _months.c.month, *columns).where(
            _months.c.participant_id.in_(list(participant_ids))
        )
        if between is not None:
            query = query.where(_months.c.month >= between[0], _months.c.month <= between[1])
        grouped: dict[str, dict[str, StoredFigures]] = {}
        amount = memoised(_to_amount)
        for pid, month, a, b, c, d, e, fee, g, per_month, i, j in (await self.session.execute(query)).all():
            grouped.setdefault(pid, {})[month] = (a, b, c, d, e, amount(fee), g, amount(per_month), i, j)
        return grouped

    async def insert_many(self, rows: Sequence[tuple[Any, ...]]) -> None:
        """New months, as tuples in ``MONTH_ROW`` order: one executemany (one COPY on PostgreSQL)."""
        await _INSERT_MONTHS.run(self.session, rows)

    async def update_many(self, rows: Sequence[tuple[Any, ...]]) -> None:
        """Changed months by key, as tuples in ``MONTH_ROW`` order: one executemany."""
        await _UPDATE_MONTHS.run(self.session, rows)

    async def remove_many(self, keys: list[tuple[str, str]]) -> None:
        if keys:
            await self.session.execute(
                _DELETE_MONTH, [{"key_participant_id": pid, "key_month": month} for pid, month in keys]
            )

    async def of_participant(self, participant_id: str) -> dict[str, MonthRow]:
        query = select(MonthRow).where(MonthRow.participant_id == participant_id)
        return {row.month: row for row in await self.session.scalars(query)}

    async def of_participants(self, participant_ids: Sequence[str]) -> dict[str, dict[str, MonthRow]]:
        query = select(MonthRow).where(MonthRow.participant_id.in_(list(participant_ids)))
        grouped: dict[str, dict[str, MonthRow]] = {}
        for row in (await self.session.scalars(query)).all():
            grouped.setdefault(row.participant_id, {})[row.month] = row
        return grouped

    async def of_programme(self, programme_id: str) -> Sequence[MonthRow]:
        return (
            await self.session.scalars(select(MonthRow).where(MonthRow.programme_id == programme_id))
        ).all()

    async def fees_of_programme(self, programme_id: str) -> list[tuple[Decimal, bool]]:
        """(fee_dkk, provisional) of every month of the programme: what the summaries add up, without
        an ORM object per month."""
        query = select(MonthRow.fee_dkk, MonthRow.provisional).where(MonthRow.programme_id == programme_id)
        return [(fee, provisional) for fee, provisional in (await self.session.execute(query)).all()]

    def add(self, row: MonthRow) -> None:
        self.session.add(row)

    async def remove(self, participant_id: str, months: Sequence[str]) -> None:
        if months:
            await self.session.execute(
                delete(MonthRow).where(MonthRow.participant_id == participant_id, MonthRow.month.in_(months))
            )
