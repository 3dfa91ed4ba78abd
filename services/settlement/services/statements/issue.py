"""Issuing a statement: the programme's ledger streamed through the domain's line rules, written and
announced a part at a time."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from sqlalchemy import insert, select
from sqlalchemy.exc import IntegrityError

from libs.common.auth import Principal
from libs.common.clock import utcnow
from libs.common.contracts import LINES_PER_PART, StatementIssuedV2, StatementLinesV1
from libs.common.db import Database, outbox_table
from libs.common.errors import Conflict, NotFound
from libs.common.events import CloudEvent, WrittenPayload, new_event, subject_for
from libs.common.logging import get_logger
from libs.common.uow import UnitOfWork
from services.settlement.domain import Month, terms_in_force
from services.settlement.domain.months import ORE
from services.settlement.domain.statements import (
    DocumentHash,
    LineKind,
    LineStream,
    NewLine,
    canonical_line,
    finish_statement,
)
from services.settlement.models import ProgrammeTermsRow, StatementRow
from services.settlement.repository import StatementRepository
from services.settlement.repository.statements import (
    LineValues,
    add_line_values,
    ledger,
    previous_cap,
)
from services.settlement.services.invoices import invoice_statement
from services.settlement.services.programme_facts import terms_versions

log = get_logger(__name__)
ZERO = Decimal("0.00")


@dataclass(frozen=True)
class Issued:
    statement: StatementRow
    created: bool


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
            await invoice_statement(uow, row)
            await uow.commit()
    except IntegrityError:
        async with UnitOfWork(database) as uow:
            again = await StatementRepository(uow.session).for_period(programme_id, period_text)
        if again is None:
            raise
        return Issued(again, created=False)
    log.info("statement_issued", programme_id=programme_id, period=period_text, lines=writer.count)
    return Issued(row, created=True)
