"""Issuing a statement (when its draft is approved): the programme's ledger streamed through the domain's
line rules, written and announced a part at a time, in the approval's unit of work."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import insert

from libs.common.clock import utcnow
from libs.common.contracts import LINES_PER_PART, StatementIssuedV2, StatementLinesV1
from libs.common.db import outbox_table
from libs.common.errors import Conflict
from libs.common.events import CloudEvent, WrittenPayload, new_event, subject_for
from libs.common.logging import get_logger
from libs.common.uow import UnitOfWork
from services.settlement.domain import Month
from services.settlement.domain.statements import DocumentHash, NewLine, Totals
from services.settlement.models import StatementRow
from services.settlement.repository import StatementRepository
from services.settlement.repository.statements import add_line_values
from services.settlement.services.invoices import invoice_statement
from services.settlement.services.statements.compute import (
    LineRun,
    number_lines,
    plan_statement,
)

log = get_logger(__name__)


class _PartWriter:
    """Takes the new lines in order; every ``LINES_PER_PART`` of them are inserted into statement_lines
    (one executemany), hashed into the document's sha256 and written to the outbox as one
    statement.lines.v1 event, so no more than a part of the statement is ever held in memory."""

    def __init__(self, uow: UnitOfWork, statement_id: str, programme_id: str, header: dict[str, Any]) -> None:
        self.uow = uow
        self.statement_id = statement_id
        self.programme_id = programme_id
        self.hash = DocumentHash(header)
        self.count = 0
        self.parts = 0
        self._pending: list[NewLine] = []

    async def add(self, lines: list[NewLine]) -> None:
        self._pending += lines
        while len(self._pending) >= LINES_PER_PART:
            part, self._pending = self._pending[:LINES_PER_PART], self._pending[LINES_PER_PART:]
            await self._write(part)

    async def close(self) -> None:
        if self._pending:
            part, self._pending = self._pending, []
            await self._write(part)

    async def _write(self, lines: list[NewLine]) -> None:
        first = self.count + 1
        values, canonical = number_lines(lines, first)
        event_lines = [
            [kind, pid, month, str(amount), cid, cno] for _, kind, pid, month, amount, cid, cno in values
        ]
        await add_line_values(self.uow.session, self.statement_id, self.programme_id, values)
        self.hash.add(canonical)
        self.count += len(lines)
        self.parts += 1
        # The payload is StatementLinesV1 (a test validates one against it), written as JSON data
        # directly: a model per part would make a Decimal and a tuple per line only to write them out.
        event = new_event(
            WrittenPayload(
                StatementLinesV1,
                {
                    "statement_id": self.statement_id,
                    "programme_id": self.programme_id,
                    "part": self.parts,
                    "first_line_no": first,
                    "lines": event_lines,
                },
            ),
            subject=f"programme/{self.programme_id}",
        )
        await write_to_outbox(self.uow, event)


async def write_to_outbox(uow: UnitOfWork, event: CloudEvent) -> None:
    """Write an event to the outbox now, in the transaction (``uow.emit`` holds events until the
    commit, which for a statement's millions of lines would hold them all in memory). The relay
    publishes in outbox order, so these go out before whatever is emitted at the commit."""
    await uow.session.execute(
        insert(outbox_table).values(
            event_id=event.id,
            subject=subject_for(event.type, uow.database.settings.subject_prefix),
            event_type=event.type,
            envelope=event.to_json_bytes().decode(),
            created_at=utcnow(),
        )
    )


@dataclass(frozen=True)
class IssuedIn:
    """A statement issued in a unit of work not yet committed: its row, totals and how many lines and
    parts of lines were written."""

    statement: StatementRow
    totals: Totals
    line_count: int
    parts: int


async def issue_in(
    uow: UnitOfWork,
    programme_id: str,
    period: Month,
    statement_id: str,
    issued_by: str,
    expected_sha256: str,
) -> IssuedIn:
    """Issue the period's statement under ``statement_id`` in the caller's unit of work (the caller
    holds the programme's lock and commits, or rolls back): its lines written and announced a part at
    a time, statement.issued emitted. Statements are issued in period order, one per period (409
    otherwise). A document that does not hash to ``expected_sha256`` (the one reviewed) is refused
    with 409 before its invoices are numbered or anything is emitted or logged.

    Lines are made by streaming the programme's ledger (current fees and issued lines, sorted) through
    the domain's ``LineStream``: memory stays flat whatever the statement's size."""
    period_text = str(period)
    statements = StatementRepository(uow.session)
    existing = await statements.for_period(programme_id, period_text)
    if existing is not None:
        raise Conflict(
            f"The statement of {period_text} is issued already.", statement_id=existing.statement_id
        )
    latest = await statements.latest_period(programme_id)
    if latest is not None and period_text < latest:
        raise Conflict(f"Statements are issued in order; the latest is for {latest}.", latest_period=latest)
    plan = await plan_statement(uow, programme_id, period, statement_id)
    header = plan.header()
    now = utcnow()
    # The row first (its lines refer to it); its totals and sha256 once every line is written.
    row = StatementRow(
        statement_id=statement_id,
        programme_id=programme_id,
        period=period_text,
        covers_through=plan.covers_through,
        issued_at=now,
        issued_by=issued_by,
        content=header,
        sha256="",
        line_count=0,
        number=plan.number,
    )
    statements.add(row)
    await statements.flush()
    run = LineRun(uow, plan)
    writer = _PartWriter(uow, statement_id, programme_id, header)
    async for lines in run.batches():
        await writer.add(lines)
    await writer.close()
    totals = run.totals
    assert totals is not None
    content = plan.content(totals)
    sha = writer.hash.hexdigest(content)
    if sha != expected_sha256:
        # Leaving without commit rolls back the lines, parts and events written so far.
        raise Conflict("The draft changed; review it again.", sha256=sha)
    row.content, row.sha256, row.line_count = content, sha, writer.count
    uow.emit(
        new_event(
            StatementIssuedV2(
                statement_id=statement_id,
                programme_id=programme_id,
                period=period_text,
                covers_through=plan.covers_through,
                issued_at=now,
                net_dkk=totals.net,
                cumulative_invoiced_dkk=totals.cumulative_invoiced,
                investor_dkk=totals.investor,
                provider_dkk=totals.provider,
                sha256=sha,
                terms_version=plan.terms_version,
                issued_by=issued_by,
                totals=dict(vars(totals)),
                line_count=writer.count,
                parts=writer.parts,
                number=plan.number,
            ),
            subject=f"programme/{programme_id}",
        )
    )
    # The creditors' e-invoices of the statement, numbered in this transaction (no gaps when it rolls back).
    await invoice_statement(uow, row)
    log.info("statement_issued", programme_id=programme_id, period=period_text, lines=writer.count)
    return IssuedIn(row, totals, writer.count, writer.parts)
