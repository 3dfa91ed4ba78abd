"""Issuing immutable statements, and reading them and the programme's summary."""

from __future__ import annotations

import csv
import io
import json
import uuid
from collections.abc import AsyncIterator, Iterable, Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any

from sqlalchemy import insert, select
from sqlalchemy.exc import IntegrityError

from libs.common.auth import Principal, Role
from libs.common.clock import utcnow
from libs.common.contracts import LINES_PER_PART, StatementIssuedV1, StatementIssuedV2, StatementLinesV1
from libs.common.db import Database, outbox_table
from libs.common.errors import Conflict, NotFound
from libs.common.events import CloudEvent, WrittenPayload, new_event, subject_for
from libs.common.logging import get_logger
from libs.common.reports import safe_cell
from libs.common.uow import UnitOfWork
from services.settlement.domain import Month, content_hash, split_cumulative, terms_in_force
from services.settlement.domain.disclosure import MIN_CITIZENS, StatementCells
from services.settlement.domain.months import ORE
from services.settlement.domain.statements import (
    DocumentHash,
    LineKind,
    LineStream,
    NewLine,
    canonical_line,
    finish_statement,
)
from services.settlement.models import ProgrammeTermsRow, StatementLinePartRow, StatementRow
from services.settlement.repository import FactsRepository, MonthRepository, StatementRepository
from services.settlement.repository_statements import (
    LINE_COLUMNS,
    LineValues,
    add_line_values,
    add_lines,
    add_part,
    drop_parts,
    has_part,
    ledger,
    lines_of,
    part_numbers,
    parts_of,
    previous_cap,
)
from services.settlement.schemas import (
    InvestorLineOut,
    InvestorStatementList,
    InvestorStatementOut,
    StatementList,
    StatementOut,
)
from services.settlement.services.months import terms_versions

log = get_logger(__name__)
ZERO = Decimal("0.00")


@dataclass(frozen=True)
class Issued:
    statement: StatementRow
    created: bool


LineDict = dict[str, Any]


def _line_dict(values: LineValues) -> LineDict:
    line = dict(zip(LINE_COLUMNS, values, strict=True))
    line["amount_dkk"] = str(line["amount_dkk"])
    return line


def _canonical(values: LineValues) -> str:
    line_no, kind, participant_id, month, amount, corrects_statement_id, corrects_line_no = values
    return canonical_line(
        line_no, kind, participant_id, month, str(amount), corrects_statement_id, corrects_line_no
    )


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
        values: list[LineValues] = []
        canonical: list[str] = []
        event_lines: list[list[Any]] = []
        for number, (kind, participant_id, month, amount, corrects_id, corrects_no) in enumerate(
            lines, first
        ):
            # With øre, as Money stores it: the text hashed is the text stored and served.
            amount = amount.quantize(ORE)
            kind_text, amount_text = KIND_TEXT[kind], str(amount)
            values.append((number, kind_text, participant_id, month, amount, corrects_id, corrects_no))
            canonical.append(
                canonical_line(
                    number, kind_text, participant_id, month, amount_text, corrects_id, corrects_no
                )
            )
            event_lines.append([kind_text, participant_id, month, amount_text, corrects_id, corrects_no])
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


KIND_TEXT = {kind: kind.value for kind in LineKind}


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


async def issue_statement(
    database: Database, principal: Principal, programme_id: str, period_text: str
) -> Issued:
    """Issue the statement of a period; the same period again returns the one already issued.

    Lines are made by streaming the programme's ledger (current fees and issued lines, sorted) through
    the domain's ``LineStream``, written in parts: memory stays flat whatever the statement's size."""
    principal.require_programme(programme_id)
    period = Month.parse(period_text)
    try:
        async with UnitOfWork(database) as uow:
            statements = StatementRepository(uow.session)
            # Statements of one programme are issued one at a time (row lock on PostgreSQL).
            await uow.session.execute(
                select(ProgrammeTermsRow.version)
                .where(ProgrammeTermsRow.programme_id == programme_id)
                .with_for_update()
            )
            existing = await statements.for_period(programme_id, period_text)
            if existing is not None:
                return Issued(existing, created=False)
            latest = await statements.latest_period(programme_id)
            if latest is not None and period_text < latest:
                raise Conflict(
                    f"Statements are issued in order; the latest is for {latest}.", latest_period=latest
                )
            versions = await terms_versions(uow, programme_id)
            if not versions:
                raise NotFound(f"No programme {programme_id}.")
            version = terms_in_force(versions, period.last_day) or min(versions, key=lambda v: v.version)
            covers_through = period.plus(-version.terms.settlement_lag_months)
            statement_id = str(uuid.uuid4())
            now = utcnow()
            header: dict[str, Any] = {
                "statement_id": statement_id,
                "programme_id": programme_id,
                "period": period_text,
                "covers_through": str(covers_through),
                "issued_at": now.isoformat(),
                "terms_version": version.version,
            }
            # The row first (its lines refer to it); its totals and sha256 once every line is written.
            row = StatementRow(
                statement_id=statement_id,
                programme_id=programme_id,
                period=period_text,
                covers_through=str(covers_through),
                issued_at=now,
                issued_by=principal.subject,
                content=header,
                sha256="",
                line_count=0,
            )
            statements.add(row)
            await statements.flush()
            cap_before = await previous_cap(uow.session, programme_id)
            stream = LineStream()
            writer = _PartWriter(uow, statement_id, programme_id, header)
            async for rows in ledger(uow.session, programme_id, str(covers_through)):
                await writer.add(stream.feed(rows))
            await writer.add(stream.finish())
            cap_line, totals = finish_statement(
                stream, cap_before, version.terms.total_cap_dkk, version.terms.split.investor_percent
            )
            await writer.add([cap_line] if cap_line else [])
            await writer.close()
            content = header | {"totals": {name: str(value) for name, value in vars(totals).items()}}
            sha = writer.hash.hexdigest(content)
            row.content, row.sha256, row.line_count = content, sha, writer.count
            uow.emit(
                new_event(
                    StatementIssuedV2(
                        statement_id=statement_id,
                        programme_id=programme_id,
                        period=period_text,
                        covers_through=str(covers_through),
                        issued_at=now,
                        net_dkk=totals.net,
                        cumulative_invoiced_dkk=totals.cumulative_invoiced,
                        investor_dkk=totals.investor,
                        provider_dkk=totals.provider,
                        sha256=sha,
                        terms_version=version.version,
                        issued_by=principal.subject,
                        totals=dict(vars(totals)),
                        line_count=writer.count,
                        parts=writer.parts,
                    ),
                    subject=f"programme/{programme_id}",
                )
            )
            await uow.commit()
    except IntegrityError:
        async with UnitOfWork(database) as uow:
            again = await StatementRepository(uow.session).for_period(programme_id, period_text)
        if again is None:
            raise
        return Issued(again, created=False)
    log.info("statement_issued", programme_id=programme_id, period=period_text, lines=writer.count)
    return Issued(row, created=True)


# --- restoring statements from the stream (a rebuild) -------------------------------------------------


async def restore_statement(uow: UnitOfWork, event: StatementIssuedV1) -> bool:
    """Store a statement from its own statement.issued.v1 event (the whole document in one event)
    unless it is stored already (a rebuild replays them). The restored document must hash to the
    sha256 it was issued with."""
    statements = StatementRepository(uow.session)
    if await statements.get(event.statement_id) is not None:
        return False
    if event.lines is None or event.totals is None or event.terms_version is None:
        raise ValueError("statement.issued without its document (lines, totals, terms_version)")
    header = _header_of(event, event.terms_version)
    totals = {name: str(value) for name, value in event.totals.items()}
    lines = [line.model_dump(mode="json") for line in event.lines]
    if content_hash(header | {"lines": lines, "totals": totals}) != event.sha256:
        raise ValueError(f"statement {event.statement_id} does not match its sha256")
    _add_row(uow, event, header | {"totals": totals}, len(lines))
    await statements.flush()
    await add_lines(
        uow.session,
        [
            line | {"statement_id": event.statement_id, "programme_id": event.programme_id,
                    "amount_dkk": Decimal(line["amount_dkk"])}
            for line in lines
        ],
    )  # fmt: skip
    return True


async def restore_lines(uow: UnitOfWork, event: StatementLinesV1) -> bool:
    """Keep a part of a statement's lines until its statement.issued.v2 arrives; nothing to do when
    the statement is stored (live, it is settlement's own event) or the part is kept already."""
    if await StatementRepository(uow.session).get(event.statement_id) is not None:
        return False
    if await has_part(uow.session, event.statement_id, event.part):
        return False
    add_part(
        uow.session,
        StatementLinePartRow(
            statement_id=event.statement_id,
            part=event.part,
            programme_id=event.programme_id,
            first_line_no=event.first_line_no,
            lines=[
                [kind, pid, month, str(amount), sid, no] for kind, pid, month, amount, sid, no in event.lines
            ],
            received_at=utcnow(),
        ),
    )
    return True


async def restore_statement_v2(uow: UnitOfWork, event: StatementIssuedV2) -> bool:
    """Store a statement from its statement.issued.v2 and the parts of its lines received before it,
    unless it is stored already. The document made of them must hash to the sha256 it was issued
    with; a missing part or a mismatch is an error (the event is retried, then dead-lettered)."""
    statements = StatementRepository(uow.session)
    if await statements.get(event.statement_id) is not None:
        return False
    have = await part_numbers(uow.session, event.statement_id)
    if have != list(range(1, event.parts + 1)):
        raise ValueError(
            f"statement {event.statement_id}: {len(have)} of its {event.parts} parts of lines are here"
        )
    header = _header_of(event, event.terms_version)
    totals = {name: str(value) for name, value in event.totals.items()}
    _add_row(uow, event, header | {"totals": totals}, event.line_count)
    await statements.flush()
    digest = DocumentHash(header)
    count = 0
    async for first_line_no, lines in parts_of(uow.session, event.statement_id):
        if first_line_no != count + 1:
            raise ValueError(f"statement {event.statement_id}: its parts of lines do not follow on")
        values: list[LineValues] = [
            (number, kind, pid, month, Decimal(amount), sid, no)
            for number, (kind, pid, month, amount, sid, no) in enumerate(lines, start=first_line_no)
        ]
        digest.add([_canonical(row) for row in values])
        await add_line_values(uow.session, event.statement_id, event.programme_id, values)
        count += len(values)
    if count != event.line_count or digest.hexdigest(header | {"totals": totals}) != event.sha256:
        raise ValueError(f"statement {event.statement_id} does not match its sha256")
    await drop_parts(uow.session, event.statement_id)
    return True


def _header_of(event: StatementIssuedV1 | StatementIssuedV2, terms_version: int) -> dict[str, Any]:
    return {
        "statement_id": event.statement_id,
        "programme_id": event.programme_id,
        "period": event.period,
        "covers_through": event.covers_through,
        "issued_at": event.issued_at.isoformat(),
        "terms_version": terms_version,
    }


def _add_row(
    uow: UnitOfWork, event: StatementIssuedV1 | StatementIssuedV2, content: dict[str, Any], line_count: int
) -> None:
    uow.session.add(
        StatementRow(
            statement_id=event.statement_id,
            programme_id=event.programme_id,
            period=event.period,
            covers_through=event.covers_through,
            issued_at=event.issued_at,
            issued_by=event.issued_by or "",
            content=content,
            sha256=event.sha256,
            line_count=line_count,
        )
    )


# --- reading statements ---------------------------------------------------------------------------
#
# Jobcenter, provider and admin read the issued document's lines, one per citizen and month. Anyone
# else who may read a statement (the investor) reads its lines summed per month and kind under the
# small-cell rule (domain/disclosure.py): no participant id, no line number, no reference to a line,
# nothing that follows a citizen from one statement to the next.


def reads_citizen_lines(principal: Principal) -> bool:
    return principal.role in (Role.jobcenter, Role.provider, Role.admin)


async def document(database: Database, row: StatementRow, principal: Principal) -> dict[str, Any]:
    """A statement's whole document as the reader may see it: with its lines and sha256, or the
    investor's view (``InvestorStatementOut``)."""
    if not reads_citizen_lines(principal):
        return (await investor_statement(database, row)).model_dump()
    lines: list[LineDict] = []
    async with UnitOfWork(database, read_only=True) as uow:
        async for chunk in lines_of(uow.session, row.statement_id):
            lines += [_line_dict(values) for values in chunk]
    return row.content | {"lines": lines, "sha256": row.sha256}


async def investor_statement(database: Database, row: StatementRow) -> InvestorStatementOut:
    """The statement's lines summed per month and kind, read a chunk at a time (only the cells and
    the ids of cells under ``MIN_CITIZENS`` lines are held); totals as issued but those withheld."""
    cells = StatementCells()
    async with UnitOfWork(database, read_only=True) as uow:
        async for chunk in lines_of(uow.session, row.statement_id):
            for _line_no, kind, participant_id, month, amount, _sid, _no in chunk:
                cells.add(kind, participant_id, month, Decimal(amount))
    shown, withheld = cells.result()
    content = row.content
    return InvestorStatementOut(
        statement_id=content["statement_id"],
        programme_id=content["programme_id"],
        period=content["period"],
        covers_through=content["covers_through"],
        issued_at=content["issued_at"],
        terms_version=content["terms_version"],
        min_citizens=MIN_CITIZENS,
        lines=[
            InvestorLineOut(
                month=c.month, kind=c.kind, citizens=c.citizens, amount_dkk=c.amount, suppressed=c.suppressed
            )
            for c in shown
        ],
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
) -> StatementList | InvestorStatementList:
    if not principal.can_access(programme_id):
        raise NotFound(f"No programme {programme_id}.")
    async with UnitOfWork(database, read_only=True) as uow:
        rows = await StatementRepository(uow.session).of_programme(programme_id)
    if not reads_citizen_lines(principal):
        return InvestorStatementList(items=[await investor_statement(database, row) for row in rows])
    return StatementList(
        items=[StatementOut.model_validate(await document(database, row, principal)) for row in rows]
    )


async def statement_json(database: Database, row: StatementRow, principal: Principal) -> AsyncIterator[bytes]:
    """The JSON of ``StatementOut``, written a chunk of lines at a time (a statement may hold
    millions); the investor's ``InvestorStatementOut``, which holds a cell per month and kind."""
    if not reads_citizen_lines(principal):
        yield (await investor_statement(database, row)).model_dump_json().encode()
        return
    head = StatementOut.model_validate(row.content | {"lines": [], "sha256": row.sha256}).model_dump_json()
    before, _, after = head.partition('"lines":[]')
    yield (before + '"lines":[').encode()
    first = True
    async with UnitOfWork(database, read_only=True) as uow:
        async for chunk in lines_of(uow.session, row.statement_id):
            text = json.dumps([_line_dict(values) for values in chunk], separators=(",", ":"))
            yield (text[1:-1] if first else "," + text[1:-1]).encode()
            first = False
    yield ("]" + after).encode()


CSV_COLUMNS = list(LINE_COLUMNS)
INVESTOR_CSV_COLUMNS = ["month", "kind", "citizens", "amount_dkk", "suppressed"]


async def statement_csv_chunks(
    database: Database, row: StatementRow, principal: Principal
) -> AsyncIterator[str]:
    """The statement as CSV: a row per line (the investor: per month and kind), then the totals
    (withheld ones empty) and the sha256."""
    if reads_citizen_lines(principal):
        totals: dict[str, Any] = row.content["totals"]
        yield _csv_rows([CSV_COLUMNS])
        async with UnitOfWork(database, read_only=True) as uow:
            async for chunk in lines_of(uow.session, row.statement_id):
                lines = (_line_dict(values) for values in chunk)
                yield _csv_rows(["" if line[c] is None else line[c] for c in CSV_COLUMNS] for line in lines)
    else:
        view = await investor_statement(database, row)
        totals = view.totals
        yield _csv_rows(
            [INVESTOR_CSV_COLUMNS]
            + [
                [cell.month or "", cell.kind, "" if cell.citizens is None else cell.citizens,
                 "" if cell.amount_dkk is None else cell.amount_dkk, str(cell.suppressed).lower()]
                for cell in view.lines
            ]
        )  # fmt: skip
    yield _csv_rows(
        [[], ["total", "value"],
         *([name, "" if value is None else value] for name, value in totals.items()),
         ["sha256", row.sha256]]
    )  # fmt: skip


def _csv_rows(rows: Iterable[Sequence[Any]]) -> str:
    out = io.StringIO()
    csv.writer(out, lineterminator="\n").writerows([safe_cell(cell) for cell in row] for row in rows)
    return out.getvalue()


@dataclass(frozen=True)
class Summary:
    earned: Decimal
    invoiced: Decimal
    provisional: Decimal
    total_cap: Decimal
    investor: Decimal
    provider: Decimal
    statements: int
    records_held: int
    cutoff: date | None


async def summary(database: Database, principal: Principal, programme_id: str) -> Summary:
    if not principal.can_access(programme_id):
        raise NotFound(f"No programme {programme_id}.")
    async with UnitOfWork(database) as uow:
        versions = await terms_versions(uow, programme_id)
        if not versions:
            raise NotFound(f"No programme {programme_id}.")
        fees = await MonthRepository(uow.session).fees_of_programme(programme_id)
        statements = list(await StatementRepository(uow.session).of_programme(programme_id))
        facts = FactsRepository(uow.session)
        records_held = await facts.record_count(programme_id)
        cutoff_row = await facts.cutoff(programme_id)
    current = max(versions, key=lambda v: v.version)
    invoiced = Decimal(statements[-1].content["totals"]["cumulative_invoiced"]) if statements else ZERO
    investor, provider = split_cumulative(invoiced, current.terms.split.investor_percent)
    return Summary(
        earned=sum((fee for fee, provisional in fees if not provisional), ZERO).quantize(Decimal("0.01")),
        invoiced=invoiced,
        provisional=sum((fee for fee, provisional in fees if provisional), ZERO).quantize(Decimal("0.01")),
        total_cap=current.terms.total_cap_dkk,
        investor=investor,
        provider=provider,
        statements=len(statements),
        records_held=records_held,
        cutoff=cutoff_row.complete_through if cutoff_row else None,
    )
