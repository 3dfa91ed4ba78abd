"""Statement queries that stream: a statement can hold a line per (citizen, month) of the programme,
millions of them, so lines are read and written as Core rows in chunks, never as ORM objects."""

from __future__ import annotations

import typing
from collections.abc import AsyncIterator, Sequence
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Integer,
    String,
    Table,
    cast,
    delete,
    false,
    func,
    insert,
    literal,
    null,
    select,
    type_coerce,
)
from sqlalchemy.ext.asyncio import AsyncSession

from services.settlement.domain.statements import CURRENT, INVOICED, LedgerRow
from services.settlement.models import MonthRow, StatementLinePartRow, StatementLineRow, StatementRow

CHUNK = 5000
months_table = typing.cast(Table, MonthRow.__table__)
lines_table = typing.cast(Table, StatementLineRow.__table__)
parts_table = typing.cast(Table, StatementLinePartRow.__table__)

# A line as stored and served: the columns of statement_lines after statement_id.
LINE_COLUMNS = (
    "line_no",
    "kind",
    "participant_id",
    "month",
    "amount_dkk",
    "corrects_statement_id",
    "corrects_line_no",
)
LineValues = tuple[int, str, str | None, str | None, Decimal, str | None, int | None]


def _bytewise(session: AsyncSession, column: Any) -> ColumnElement[Any]:
    """Order strings by code point, as Python does (SQLite's default; PostgreSQL's depends on the
    database's collation), so the lines come in the order the domain defines."""
    if session.get_bind().dialect.name == "postgresql":
        return column.collate("C")  # type: ignore[no-any-return]
    return column  # type: ignore[no-any-return]


def _raw_money(session: AsyncSession, column: Any) -> Any:
    """A Money column read as the driver returns it (SQLite: its exact text; PostgreSQL: a Decimal),
    without a Decimal made per row by the type: the domain reads it with Decimal()."""
    if session.get_bind().dialect.name == "postgresql":
        return column
    return type_coerce(column, String)


async def ledger(
    session: AsyncSession, programme_id: str, covers_through: str
) -> AsyncIterator[Sequence[LedgerRow]]:
    """Chunks of the programme's ledger rows (``domain.statements.LedgerRow``): the current fee of every
    non-provisional (citizen, month) up to ``covers_through`` that earns something, and every issued
    fee or adjustment line, sorted by participant, month, fee before lines, lines in issue order."""
    fees = select(
        months_table.c.participant_id,
        months_table.c.month,
        literal(CURRENT, Integer).label("source"),
        _raw_money(session, months_table.c.fee_dkk).label("amount"),
        cast(null(), String).label("period"),
        cast(null(), String).label("statement_id"),
        cast(null(), Integer).label("line_no"),
    ).where(
        months_table.c.programme_id == programme_id,
        months_table.c.provisional == false(),
        months_table.c.month <= covers_through,
        months_table.c.fee_dkk != Decimal("0.00"),
    )
    issued = (
        select(
            lines_table.c.participant_id,
            lines_table.c.month,
            literal(INVOICED, Integer),
            _raw_money(session, lines_table.c.amount_dkk),
            StatementRow.period,
            lines_table.c.statement_id,
            lines_table.c.line_no,
        )
        .select_from(StatementRow)
        .join(lines_table, lines_table.c.statement_id == StatementRow.statement_id)
        .where(
            StatementRow.programme_id == programme_id,  # statement_lines has no index on programme_id
            lines_table.c.kind != "cap",
            lines_table.c.participant_id.is_not(None),
            lines_table.c.month.is_not(None),
        )
    )
    both = fees.union_all(issued).subquery()
    query = select(
        both.c.participant_id, both.c.month, both.c.source, both.c.amount, both.c.statement_id, both.c.line_no
    ).order_by(
        _bytewise(session, both.c.participant_id),
        _bytewise(session, both.c.month),
        both.c.source,
        both.c.period,
        both.c.line_no,
    )
    # On the connection, not the session: Core rows, no ORM loading.
    connection = await session.connection()
    result = await connection.stream(query.execution_options(yield_per=CHUNK))
    async for partition in result.partitions(CHUNK):
        yield partition  # a Row is a tuple of these columns


async def previous_cap(session: AsyncSession, programme_id: str) -> Decimal:
    """The sum of the programme's issued cap lines (a few: one per statement at most)."""
    query = (
        select(lines_table.c.amount_dkk)
        .join(StatementRow, StatementRow.statement_id == lines_table.c.statement_id)
        .where(StatementRow.programme_id == programme_id, lines_table.c.kind == "cap")
    )
    return sum((await session.scalars(query)).all(), Decimal("0.00"))


async def add_lines(session: AsyncSession, rows: Sequence[dict[str, Any]]) -> None:
    """Insert lines (dicts of statement_lines' columns; ``amount_dkk`` a Decimal with øre) with one
    executemany."""
    if rows:
        await session.execute(insert(lines_table), rows)


_INSERT = (
    "INSERT INTO statement_lines (statement_id, programme_id, line_no, kind, participant_id, month, "
    "amount_dkk, corrects_statement_id, corrects_line_no) VALUES "
)
COPY_COLUMNS = ("statement_id", "programme_id", *LINE_COLUMNS)
INSERT_LINES = {  # by the driver's paramstyle
    "qmark": _INSERT + "(?, ?, ?, ?, ?, ?, ?, ?, ?)",
    "numeric_dollar": _INSERT + "($1, $2, $3, $4, $5, $6, $7, $8, $9)",
}


async def add_line_values(
    session: AsyncSession, statement_id: str, programme_id: str, values: Sequence[LineValues]
) -> None:
    """Insert lines given as ``LINE_COLUMNS`` tuples (amounts with øre) with the driver: one COPY on
    PostgreSQL, one executemany on SQLite (without SQLAlchemy's per-row parameter processing, which
    outweighs the insert; docs/performance.md#from-the-codes-comments). The values are bound as the
    column types want them: Money as its text on SQLite, as a Decimal on PostgreSQL (as
    ``libs.common.db.Money`` does)."""
    if not values:
        return
    connection = await session.connection()
    if connection.dialect.name == "postgresql":
        # COPY, in the transaction: far cheaper for PostgreSQL than an INSERT per row
        # (docs/performance.md#from-the-codes-comments).
        raw = await connection.get_raw_connection()
        await raw.driver_connection.copy_records_to_table(  # type: ignore[union-attr]
            "statement_lines",
            columns=COPY_COLUMNS,
            records=[(statement_id, programme_id, *line) for line in values],
        )
        return
    rows = [(statement_id, programme_id, no, kind, pid, month, str(amount), sid, cno)
            for no, kind, pid, month, amount, sid, cno in values]  # fmt: skip
    await connection.exec_driver_sql(INSERT_LINES[connection.dialect.paramstyle], rows)


async def lines_of(session: AsyncSession, statement_id: str) -> AsyncIterator[list[LineValues]]:
    """A statement's lines in line order, in chunks, as tuples of ``LINE_COLUMNS``."""
    query = (
        select(*(lines_table.c[name] for name in LINE_COLUMNS))
        .where(lines_table.c.statement_id == statement_id)
        .order_by(lines_table.c.line_no)
    )
    result = await session.stream(query.execution_options(yield_per=CHUNK))
    async for partition in result.partitions(CHUNK):
        yield [tuple(row) for row in partition]


async def stored_line_count(session: AsyncSession, statement_id: str) -> int:
    query = select(func.count()).select_from(lines_table).where(lines_table.c.statement_id == statement_id)
    return int((await session.execute(query)).scalar_one())


# --- parts of lines waiting for their statement.issued.v2 (a rebuild) ------------------------------


async def has_part(session: AsyncSession, statement_id: str, part: int) -> bool:
    return await session.get(StatementLinePartRow, (statement_id, part)) is not None


def add_part(session: AsyncSession, row: StatementLinePartRow) -> None:
    session.add(row)


async def part_numbers(session: AsyncSession, statement_id: str) -> list[int]:
    query = (
        select(parts_table.c.part)
        .where(parts_table.c.statement_id == statement_id)
        .order_by(parts_table.c.part)
    )
    return list((await session.scalars(query)).all())


async def parts_of(session: AsyncSession, statement_id: str) -> AsyncIterator[tuple[int, list[list[Any]]]]:
    """(first_line_no, lines) of each stored part, in part order, one at a time."""
    query = (
        select(parts_table.c.first_line_no, parts_table.c.lines)
        .where(parts_table.c.statement_id == statement_id)
        .order_by(parts_table.c.part)
    )
    result = await session.stream(query.execution_options(yield_per=1))
    async for first_line_no, lines in result:
        yield first_line_no, lines


async def drop_parts(session: AsyncSession, statement_id: str) -> None:
    await session.execute(delete(parts_table).where(parts_table.c.statement_id == statement_id))


class StatementRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def get(self, statement_id: str) -> StatementRow | None:
        return await self.session.get(StatementRow, statement_id)

    async def for_period(self, programme_id: str, period: str) -> StatementRow | None:
        query = select(StatementRow).where(
            StatementRow.programme_id == programme_id, StatementRow.period == period
        )
        return (await self.session.scalars(query)).first()

    async def of_programme(self, programme_id: str) -> Sequence[StatementRow]:
        query = (
            select(StatementRow)
            .where(StatementRow.programme_id == programme_id)
            .order_by(StatementRow.period)
        )
        return (await self.session.scalars(query)).all()

    async def count(self, programme_id: str) -> int:
        query = (
            select(func.count()).select_from(StatementRow).where(StatementRow.programme_id == programme_id)
        )
        return int((await self.session.execute(query)).scalar_one())

    async def latest_period(self, programme_id: str) -> str | None:
        query = select(func.max(StatementRow.period)).where(StatementRow.programme_id == programme_id)
        return (await self.session.execute(query)).scalar_one_or_none()

    async def lines_of_programme(self, programme_id: str) -> Sequence[tuple[StatementLineRow, str]]:
        """Every issued line with its statement's period, in issue order."""
        query = (
            select(StatementLineRow, StatementRow.period)
            .join(StatementRow, StatementRow.statement_id == StatementLineRow.statement_id)
            .where(StatementLineRow.programme_id == programme_id)
            .order_by(StatementRow.period, StatementLineRow.line_no)
        )
        return [(line, period) for line, period in (await self.session.execute(query)).all()]

    async def lines_naming(
        self, programme_id: str, participant_id: str
    ) -> Sequence[tuple[StatementLineRow, StatementRow]]:
        """The issued lines that name this participant, with their statements, in issue order. No index
        leads from a participant to its lines (docs: the model's), so this reads the programme's lines:
        a right-of-access export is rare."""
        query = (
            select(StatementLineRow, StatementRow)
            .join(StatementRow, StatementRow.statement_id == StatementLineRow.statement_id)
            .where(
                StatementLineRow.programme_id == programme_id,
                StatementLineRow.participant_id == participant_id,
            )
            .order_by(StatementRow.number, StatementLineRow.line_no)
        )
        return [(line, statement) for line, statement in (await self.session.execute(query)).all()]

    async def lines(self, statement_id: str) -> Sequence[StatementLineRow]:
        query = (
            select(StatementLineRow)
            .where(StatementLineRow.statement_id == statement_id)
            .order_by(StatementLineRow.line_no)
        )
        return (await self.session.scalars(query)).all()

    def add(self, row: StatementRow | StatementLineRow) -> None:
        self.session.add(row)

    async def flush(self) -> None:
        await self.session.flush()
