"""Reading issued statements, as the reader may see them.

Jobcenter, provider and admin read the issued document's lines, one per citizen and month. Anyone else
who may read a statement (the investor) reads its lines summed per month and kind under the small-cell
rule (domain/disclosure.py): no participant id, no line number, no reference to a line, nothing that
follows a citizen from one statement to the next. ``api/statement_documents.py`` writes them as JSON or
CSV."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import asdict, dataclass
from decimal import Decimal
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from libs.common.auth import Principal, Role
from libs.common.clock import as_utc
from libs.common.db import Database
from libs.common.errors import NotFound
from libs.common.uow import UnitOfWork
from services.settlement.domain.disclosure import MIN_CITIZENS, StatementCells
from services.settlement.models import StatementRow
from services.settlement.repository import DisputeRepository, StatementRepository
from services.settlement.repository.statements import LINE_COLUMNS, LineValues, lines_of

LineDict = dict[str, Any]
CITIZEN_LINE_COLUMNS = LINE_COLUMNS  # a citizen line's fields, in the document's order


def _line_dict(values: LineValues) -> LineDict:
    line = dict(zip(LINE_COLUMNS, values, strict=True))
    line["amount_dkk"] = str(line["amount_dkk"])
    return line


def reads_citizen_lines(principal: Principal) -> bool:
    """Per-citizen lines (pseudonymous participant ids): finance checks what it approves line by line."""
    return principal.role in (Role.jobcenter, Role.provider, Role.finance, Role.admin, Role.auditor)


def issued_at(row: StatementRow) -> str:
    """When it was issued: in the hashed document of a statement issued before drafts, else the row's."""
    if "issued_at" in row.content:
        return str(row.content["issued_at"])
    return as_utc(row.issued_at).isoformat()


def statement_fields(row: StatementRow) -> dict[str, Any]:
    """The statement's document without its lines, with what is shown beside it: its number and
    issued_at (outside the hash when not in ``content``), its sha256, and ``hashed``, the fields the
    sha256 covers (content_hash of them is the sha256)."""
    return row.content | {
        "issued_at": issued_at(row),
        "number": row.number,
        "sha256": row.sha256,
        "hashed": sorted([*row.content, "lines"]),
    }


@dataclass(frozen=True)
class InvestorLine:
    """A statement's lines of one month and kind: no citizen, no line."""

    month: str | None  # None: the cap
    kind: str
    citizens: int | None  # None: suppressed
    amount_dkk: Decimal | None  # None: suppressed
    suppressed: bool


@dataclass(frozen=True)
class InvestorStatement:
    """A statement as the investor reads it: the issued header, its lines summed per month and kind,
    the totals as issued but those withheld (None), and the sha256 of the issued document."""

    statement_id: str
    programme_id: str
    period: str
    covers_through: str
    issued_at: str
    terms_version: int
    number: int
    min_citizens: int
    lines: list[InvestorLine]
    totals: dict[str, Decimal | None]
    sha256: str


async def citizen_lines(database: Database, row: StatementRow) -> AsyncIterator[list[LineDict]]:
    """The statement's lines as issued (a dict per line, amounts as text), a chunk at a time: a
    statement may hold millions. An adjustment that corrects a line an upheld dispute covered (its
    ``corrects_statement_id``/``corrects_line_no``), the dispute opened before this statement's issue,
    also names it (``dispute_id``): found when read, so the issued document, its sha256 and its events
    stay as they were."""
    async with UnitOfWork(database, read_only=True) as uow:
        disputed = await _disputed(uow.session, row)
        async for chunk in lines_of(uow.session, row.statement_id):
            lines = [_line_dict(values) for values in chunk]
            if disputed:
                for line in lines:
                    if line["kind"] != "adjustment":
                        continue
                    found = disputed.get((line["corrects_statement_id"], line["corrects_line_no"]))
                    if found is not None:
                        line["dispute_id"] = found
            yield lines


async def _disputed(session: AsyncSession, row: StatementRow) -> dict[tuple[str, int], str]:
    """(statement_id, line_no) of a line an upheld dispute opened before the statement's issue covered
    -> that dispute."""
    return await DisputeRepository(session).upheld_lines(row.programme_id, as_utc(row.issued_at))


async def document(database: Database, row: StatementRow, principal: Principal) -> dict[str, Any]:
    """A statement's whole document as the reader may see it: with its lines and sha256, or the
    investor's view (``InvestorStatement``) as a dict."""
    if not reads_citizen_lines(principal):
        return asdict(await investor_statement(database, row))
    lines: list[LineDict] = []
    async for chunk in citizen_lines(database, row):
        lines += chunk
    return statement_fields(row) | {"lines": lines}


async def investor_statement(database: Database, row: StatementRow) -> InvestorStatement:
    """The statement's lines summed per month and kind, read a chunk at a time (only the cells and
    the ids of cells under ``MIN_CITIZENS`` lines are held); totals as issued but those withheld."""
    cells = StatementCells()
    async with UnitOfWork(database, read_only=True) as uow:
        async for chunk in lines_of(uow.session, row.statement_id):
            for _line_no, kind, participant_id, month, amount, _sid, _no in chunk:
                cells.add(kind, participant_id, month, Decimal(amount))
    shown, withheld = cells.result()
    content = row.content
    return InvestorStatement(
        statement_id=content["statement_id"],
        programme_id=content["programme_id"],
        period=content["period"],
        covers_through=content["covers_through"],
        issued_at=issued_at(row),
        terms_version=content["terms_version"],
        number=row.number,
        min_citizens=MIN_CITIZENS,
        lines=[InvestorLine(c.month, c.kind, c.citizens, c.amount, c.suppressed) for c in shown],
        totals={
            name: None if name in withheld else Decimal(value) for name, value in content["totals"].items()
        },
        sha256=row.sha256,
    )


async def readable_statement(database: Database, principal: Principal, statement_id: str) -> StatementRow:
    async with UnitOfWork(database, read_only=True) as uow:
        row = await StatementRepository(uow.session).get(statement_id)
    if row is None or not principal.can_access(row.programme_id):
        raise NotFound("No such statement.")
    return row


async def get_statement(database: Database, principal: Principal, statement_id: str) -> dict[str, Any]:
    return await document(database, await readable_statement(database, principal, statement_id), principal)


async def list_statements(
    database: Database, principal: Principal, programme_id: str
) -> list[dict[str, Any]] | list[InvestorStatement]:
    """The programme's statements in period order: whole documents, or the investor's views."""
    if not principal.can_access(programme_id):
        raise NotFound(f"No programme {programme_id}.")
    async with UnitOfWork(database, read_only=True) as uow:
        rows = await StatementRepository(uow.session).of_programme(programme_id)
    if not reads_citizen_lines(principal):
        return [await investor_statement(database, row) for row in rows]
    return [await document(database, row, principal) for row in rows]
