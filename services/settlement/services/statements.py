"""Issuing immutable statements, and reading them and the programme's summary."""

from __future__ import annotations

import csv
import io
import uuid
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from libs.common.auth import Principal, Role
from libs.common.clock import utcnow
from libs.common.contracts import StatementIssuedV1, StatementLine
from libs.common.db import Database
from libs.common.errors import Conflict, NotFound
from libs.common.events import new_event
from libs.common.logging import get_logger
from libs.common.uow import UnitOfWork
from services.settlement.domain import (
    IssuedLine,
    Line,
    LineKind,
    LineRef,
    Month,
    build_statement,
    content_hash,
    split_cumulative,
    terms_in_force,
)
from services.settlement.models import MonthRow, ProgrammeTermsRow, StatementLineRow, StatementRow
from services.settlement.repository import FactsRepository, MonthRepository, StatementRepository
from services.settlement.services.months import terms_versions

log = get_logger(__name__)
ZERO = Decimal("0.00")


@dataclass(frozen=True)
class Issued:
    statement: StatementRow
    created: bool


def _issued_lines(rows: list[tuple[StatementLineRow, str]]) -> list[IssuedLine]:
    issued = []
    for row, _period in rows:
        corrects = (
            LineRef(row.corrects_statement_id, row.corrects_line_no)
            if row.corrects_statement_id is not None and row.corrects_line_no is not None
            else None
        )
        line = Line(
            LineKind(row.kind),
            Decimal(row.amount_dkk).quantize(Decimal("0.01")),
            row.participant_id,
            Month.parse(row.month) if row.month else None,
            corrects,
        )
        issued.append(IssuedLine(LineRef(row.statement_id, row.line_no), line))
    return issued


async def issue_statement(
    database: Database, principal: Principal, programme_id: str, period_text: str
) -> Issued:
    """Issue the statement of a period; the same period again returns the one already issued."""
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
            current = {
                (row.participant_id, Month.parse(row.month)): Decimal(row.fee_dkk).quantize(Decimal("0.01"))
                for row in await MonthRepository(uow.session).of_programme(programme_id)
                if not row.provisional and Month.parse(row.month) <= covers_through
            }
            issued = _issued_lines(list(await statements.lines_of_programme(programme_id)))
            lines, totals = build_statement(
                current, issued, version.terms.total_cap_dkk, version.terms.split.investor_percent
            )
            statement_id = str(uuid.uuid4())
            now = utcnow()
            line_contents = [_line_content(n, line) for n, line in enumerate(lines, start=1)]
            total_values = {name: str(value) for name, value in vars(totals).items()}
            content = {
                "statement_id": statement_id,
                "programme_id": programme_id,
                "period": period_text,
                "covers_through": str(covers_through),
                "issued_at": now.isoformat(),
                "terms_version": version.version,
                "lines": line_contents,
                "totals": total_values,
            }
            sha = content_hash(content)
            statements.add(
                StatementRow(
                    statement_id=statement_id,
                    programme_id=programme_id,
                    period=period_text,
                    covers_through=str(covers_through),
                    issued_at=now,
                    issued_by=principal.subject,
                    content=content,
                    sha256=sha,
                )
            )
            await statements.flush()
            for number, line in enumerate(lines, start=1):
                statements.add(
                    StatementLineRow(
                        statement_id=statement_id,
                        line_no=number,
                        programme_id=programme_id,
                        kind=line.kind.value,
                        participant_id=line.participant_id,
                        month=str(line.month) if line.month else None,
                        amount_dkk=line.amount,
                        corrects_statement_id=line.corrects.statement_id if line.corrects else None,
                        corrects_line_no=line.corrects.line_no if line.corrects else None,
                    )
                )
            uow.emit(
                new_event(
                    StatementIssuedV1(
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
                        lines=[StatementLine.model_validate(line) for line in line_contents],
                        totals={name: Decimal(value) for name, value in total_values.items()},
                    ),
                    subject=f"programme/{programme_id}",
                )
            )
            await uow.commit()
            row = await statements.get(statement_id)
    except IntegrityError:
        async with UnitOfWork(database) as uow:
            again = await StatementRepository(uow.session).for_period(programme_id, period_text)
        if again is None:
            raise
        return Issued(again, created=False)
    assert row is not None
    log.info("statement_issued", programme_id=programme_id, period=period_text, lines=len(lines))
    return Issued(row, created=True)


async def restore_statement(uow: UnitOfWork, event: StatementIssuedV1) -> bool:
    """Store a statement from its own statement.issued event unless it is stored already (a rebuild
    replays them). The restored document must hash to the sha256 it was issued with."""
    statements = StatementRepository(uow.session)
    if await statements.get(event.statement_id) is not None:
        return False
    if event.lines is None or event.totals is None or event.terms_version is None:
        raise ValueError("statement.issued without its document (lines, totals, terms_version)")
    content = {
        "statement_id": event.statement_id,
        "programme_id": event.programme_id,
        "period": event.period,
        "covers_through": event.covers_through,
        "issued_at": event.issued_at.isoformat(),
        "terms_version": event.terms_version,
        "lines": [line.model_dump(mode="json") for line in event.lines],
        "totals": {name: str(value) for name, value in event.totals.items()},
    }
    if content_hash(content) != event.sha256:
        raise ValueError(f"statement {event.statement_id} does not match its sha256")
    statements.add(
        StatementRow(
            statement_id=event.statement_id,
            programme_id=event.programme_id,
            period=event.period,
            covers_through=event.covers_through,
            issued_at=event.issued_at,
            issued_by=event.issued_by or "",
            content=content,
            sha256=event.sha256,
        )
    )
    await statements.flush()
    for line in event.lines:
        statements.add(
            StatementLineRow(
                statement_id=event.statement_id,
                line_no=line.line_no,
                programme_id=event.programme_id,
                kind=line.kind,
                participant_id=line.participant_id,
                month=line.month,
                amount_dkk=line.amount_dkk,
                corrects_statement_id=line.corrects_statement_id,
                corrects_line_no=line.corrects_line_no,
            )
        )
    await statements.flush()
    return True


def _line_content(number: int, line: Line) -> dict[str, Any]:
    return {
        "line_no": number,
        "kind": line.kind.value,
        "participant_id": line.participant_id,
        "month": str(line.month) if line.month else None,
        "amount_dkk": str(line.amount),
        "corrects_statement_id": line.corrects.statement_id if line.corrects else None,
        "corrects_line_no": line.corrects.line_no if line.corrects else None,
    }


def for_reader(content: dict[str, Any], principal: Principal) -> dict[str, Any]:
    """The investor reads statements without person-level lines: participant ids are left out."""
    if principal.role is not Role.investor:
        return content
    return content | {"lines": [line | {"participant_id": None} for line in content["lines"]]}


async def get_statement(database: Database, principal: Principal, statement_id: str) -> dict[str, Any]:
    async with UnitOfWork(database) as uow:
        row = await StatementRepository(uow.session).get(statement_id)
    if row is None or not principal.can_access(row.programme_id):
        raise NotFound("No such statement.")
    return for_reader(row.content | {"sha256": row.sha256}, principal)


async def list_statements(
    database: Database, principal: Principal, programme_id: str
) -> list[dict[str, Any]]:
    if not principal.can_access(programme_id):
        raise NotFound(f"No programme {programme_id}.")
    async with UnitOfWork(database) as uow:
        rows = await StatementRepository(uow.session).of_programme(programme_id)
    return [for_reader(row.content | {"sha256": row.sha256}, principal) for row in rows]


def statement_csv(content: dict[str, Any]) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    columns = [
        "line_no",
        "kind",
        "participant_id",
        "month",
        "amount_dkk",
        "corrects_statement_id",
        "corrects_line_no",
    ]
    writer.writerow(columns)
    for line in content["lines"]:
        writer.writerow(["" if line[c] is None else line[c] for c in columns])
    writer.writerow([])
    writer.writerow(["total", "value"])
    for name, value in content["totals"].items():
        writer.writerow([name, value])
    writer.writerow(["sha256", content.get("sha256", "")])
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
        months: list[MonthRow] = list(await MonthRepository(uow.session).of_programme(programme_id))
        statements = list(await StatementRepository(uow.session).of_programme(programme_id))
        facts = FactsRepository(uow.session)
        records_held = await facts.record_count(programme_id)
        cutoff_row = await facts.cutoff(programme_id)
    current = max(versions, key=lambda v: v.version)
    invoiced = Decimal(statements[-1].content["totals"]["cumulative_invoiced"]) if statements else ZERO
    investor, provider = split_cumulative(invoiced, current.terms.split.investor_percent)
    return Summary(
        earned=sum((Decimal(m.fee_dkk) for m in months if not m.provisional), ZERO).quantize(Decimal("0.01")),
        invoiced=invoiced,
        provisional=sum((Decimal(m.fee_dkk) for m in months if m.provisional), ZERO).quantize(
            Decimal("0.01")
        ),
        total_cap=current.terms.total_cap_dkk,
        investor=investor,
        provider=provider,
        statements=len(statements),
        records_held=records_held,
        cutoff=cutoff_row.complete_through if cutoff_row else None,
    )
