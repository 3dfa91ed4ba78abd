"""A statement written out for its reader: JSON (``StatementOut``; the investor's
``InvestorStatementOut``) or CSV, streamed a chunk of lines at a time."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import AsyncIterator, Iterable, Sequence
from dataclasses import asdict
from typing import Any

from fastapi import Request
from fastapi.responses import StreamingResponse

from libs.common.auth import Principal
from libs.common.db import Database
from libs.common.reports import safe_cell
from services.settlement.models import StatementRow
from services.settlement.schemas import (
    InvestorLineOut,
    InvestorStatementList,
    InvestorStatementOut,
    StatementList,
    StatementOut,
)
from services.settlement.services.statements import (
    CITIZEN_LINE_COLUMNS,
    InvestorStatement,
    citizen_lines,
    investor_statement,
    reads_citizen_lines,
    statement_fields,
)


def investor_out(view: InvestorStatement) -> InvestorStatementOut:
    fields = asdict(view)
    fields["lines"] = [InvestorLineOut(**asdict(line)) for line in view.lines]
    return InvestorStatementOut(**fields)


def statement_list(
    listed: list[dict[str, Any]] | list[InvestorStatement],
) -> StatementList | InvestorStatementList:
    investor = [investor_out(view) for view in listed if isinstance(view, InvestorStatement)]
    if len(investor) == len(listed) and listed:
        return InvestorStatementList(items=investor)
    documents = [StatementOut.model_validate(item) for item in listed if isinstance(item, dict)]
    return StatementList(items=documents)


async def statement_json(database: Database, row: StatementRow, principal: Principal) -> AsyncIterator[bytes]:
    """The JSON of ``StatementOut``, written a chunk of lines at a time (a statement may hold
    millions); the investor's ``InvestorStatementOut``, which holds a cell per month and kind."""
    if not reads_citizen_lines(principal):
        yield investor_out(await investor_statement(database, row)).model_dump_json().encode()
        return
    head = StatementOut.model_validate(statement_fields(row) | {"lines": []}).model_dump_json()
    before, _, after = head.partition('"lines":[]')
    yield (before + '"lines":[').encode()
    first = True
    async for chunk in citizen_lines(database, row):
        text = json.dumps(chunk, separators=(",", ":"))
        yield (text[1:-1] if first else "," + text[1:-1]).encode()
        first = False
    yield ("]" + after).encode()


CSV_COLUMNS = list(CITIZEN_LINE_COLUMNS)
INVESTOR_CSV_COLUMNS = ["month", "kind", "citizens", "amount_dkk", "suppressed"]


async def statement_csv_chunks(
    database: Database, row: StatementRow, principal: Principal
) -> AsyncIterator[str]:
    """The statement as CSV: a row per line (the investor: per month and kind), then the totals
    (withheld ones empty) and the sha256."""
    if reads_citizen_lines(principal):
        totals: dict[str, Any] = row.content["totals"]
        yield csv_rows([CSV_COLUMNS])
        async for chunk in citizen_lines(database, row):
            yield csv_rows(["" if line[c] is None else line[c] for c in CSV_COLUMNS] for line in chunk)
    else:
        view = investor_out(await investor_statement(database, row))
        totals = view.totals
        yield csv_rows(
            [INVESTOR_CSV_COLUMNS]
            + [
                [cell.month or "", cell.kind, "" if cell.citizens is None else cell.citizens,
                 "" if cell.amount_dkk is None else cell.amount_dkk, str(cell.suppressed).lower()]
                for cell in view.lines
            ]
        )  # fmt: skip
    yield csv_rows(
        [[], ["total", "value"],
         *([name, "" if value is None else value] for name, value in totals.items()),
         ["sha256", row.sha256]]
    )  # fmt: skip


def statement_response(
    database: Database, row: StatementRow, principal: Principal, request: Request, status_code: int = 200
) -> StreamingResponse:
    """The statement as JSON (``StatementOut``; the investor's ``InvestorStatementOut``) or, asked with
    ``Accept: text/csv``, as CSV; streamed a chunk of lines at a time from statement_lines (a statement
    may hold millions of lines)."""
    if "text/csv" in request.headers.get("accept", ""):
        return StreamingResponse(
            statement_csv_chunks(database, row, principal),
            status_code=status_code,
            media_type="text/csv",
            headers={"Content-Disposition": f'attachment; filename="statement-{row.period}.csv"'},
        )
    return StreamingResponse(
        statement_json(database, row, principal), status_code=status_code, media_type="application/json"
    )


def csv_rows(rows: Iterable[Sequence[Any]]) -> str:
    out = io.StringIO()
    csv.writer(out, lineterminator="\n").writerows([safe_cell(cell) for cell in row] for row in rows)
    return out.getvalue()
