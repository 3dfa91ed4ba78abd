"""Bulk statements: one DBAPI executemany of positional tuples (or, on PostgreSQL, one COPY) for
thousands of rows, without SQLAlchemy's parameter dict and type pass per row."""

from __future__ import annotations

from collections.abc import Sequence
from operator import itemgetter
from typing import Any

from sqlalchemy import Table, bindparam, insert
from sqlalchemy.ext.asyncio import AsyncSession

# From how many rows a statement made with ``copy=True`` (or ``copy_into``) goes in with COPY on
# PostgreSQL: a COPY is a round trip more than an executemany and saves the server a little on every
# row, so a group of single POSTs or one citizen's months keep the executemany (figures:
# docs/performance.md#from-the-codes-comments).
COPY_FROM_ROWS = 100


class BulkStatement:
    """A statement run as one DBAPI executemany of positional tuples, for hundreds of thousands of rows.

    SQLAlchemy's executemany builds a parameter dict per row and runs every value through its type
    (figures: docs/performance.md#from-the-codes-comments). This compiles the statement once per
    dialect and converts each value with its column's bind processor only once per distinct value
    (fees, dates and the timestamp repeat), so the same values reach the driver as SQLAlchemy would
    send them. ``names`` maps each bound parameter to its place in the caller's tuples."""

    def __init__(
        self,
        statement: Any,
        names: dict[str, int],
        copy_into: str | None = None,
        copy_from_rows: int = COPY_FROM_ROWS,
    ) -> None:
        """``copy_into``: an INSERT whose bound names are the table's columns; on PostgreSQL its rows go
        into that table with one COPY instead (a row costs the server far less than through an INSERT
        executemany; figures: docs/performance.md#from-the-codes-comments), when they are at least
        ``copy_from_rows`` (a COPY is a round trip more than an executemany: for a few rows, the
        executemany answers sooner)."""
        self.statement = statement
        self.names = names
        self.copy_into = copy_into
        self.copy_from_rows = copy_from_rows
        self._plans: dict[str, tuple[str, list[tuple[int, Any]], tuple[str, ...], Any]] = {}

    def _plan(self, dialect: Any) -> tuple[str, list[tuple[int, Any]], tuple[str, ...], Any]:
        plan = self._plans.get(dialect.name)
        if plan is None:
            compiled = self.statement.compile(dialect=dialect)
            order = compiled.positiontup
            if order is None:
                raise RuntimeError(f"{dialect.name} has no positional parameters")
            columns = [(self.names[name], _processor(compiled.binds[name].type, dialect)) for name in order]
            # the caller's values in the statement's order
            indexes = [index for index, _ in columns]
            pick = itemgetter(*indexes) if len(indexes) > 1 else lambda values: (values[indexes[0]],)
            plan = (compiled.string, columns, tuple(order), pick)
            self._plans[dialect.name] = plan
        return plan

    @classmethod
    def insert(
        cls, table: Table, columns: Sequence[str], *, copy: bool = False, copy_from_rows: int = COPY_FROM_ROWS
    ) -> BulkStatement:
        """An INSERT of ``columns`` (the rows' values in this order); ``copy``: COPY on PostgreSQL, of
        ``copy_from_rows`` rows or more."""
        return cls(
            insert(table).values({name: bindparam(name) for name in columns}),
            {name: index for index, name in enumerate(columns)},
            copy_into=table.name if copy else None,
            copy_from_rows=copy_from_rows,
        )

    async def run(self, session: AsyncSession, rows: Sequence[tuple[Any, ...]]) -> None:
        if not rows:
            return
        connection = await session.connection()
        sql, columns, names, pick = self._plan(connection.dialect)
        converters = [(index, memoised(process)) for index, process in columns if process is not None]
        params = []
        for row in rows:
            values = list(row)
            for index, convert in converters:
                values[index] = convert(values[index])
            params.append(pick(values))
        if (
            self.copy_into is not None
            and len(params) >= self.copy_from_rows
            and connection.dialect.name == "postgresql"
        ):
            raw = await connection.get_raw_connection()
            await raw.driver_connection.copy_records_to_table(  # type: ignore[union-attr]
                self.copy_into, columns=names, records=params
            )
            return
        await connection.exec_driver_sql(sql, params)


def _processor(type_: Any, dialect: Any) -> Any:
    """The bind processor SQLAlchemy itself would apply (its dialect-level type's, e.g. SQLite's text
    format for dates and timestamps)."""
    return type_.dialect_impl(dialect).bind_processor(dialect)


def memoised(process: Any) -> Any:
    """``process`` remembering what it made of each hashable value: for values that repeat."""
    if process is None:
        return None
    done: dict[Any, Any] = {}

    def convert(value: Any) -> Any:
        try:
            return done[value]
        except KeyError:
            converted = done[value] = process(value)
            return converted
        except TypeError:  # unhashable
            return process(value)

    return convert
