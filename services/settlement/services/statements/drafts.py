"""A statement's draft (docs/domain.md "Statement lifecycle"): prepared for a period from the data as it
stands, recomputed whenever prepared again or read, never an invoice; discarded, or approved
(``approval.py``), which issues it. Only a small row is kept: its lines are computed on every read."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any

from libs.common.auth import Principal
from libs.common.clock import as_utc, utcnow
from libs.common.contracts import StatementDraftedV1
from libs.common.db import Database
from libs.common.errors import Conflict, NotFound
from libs.common.events import new_event
from libs.common.logging import get_logger
from libs.common.uow import UnitOfWork
from services.settlement.domain import Month
from services.settlement.models import StatementDraftRow, StatementRow
from services.settlement.repository import DraftRepository, StatementRepository
from services.settlement.repository.drafts import DISCARDED, ISSUED, OPEN
from services.settlement.services.statements.compute import (
    HASHED_HEADER,
    HashWriter,
    LineRun,
    compute_statement,
    lock_programme,
    plan_statement,
)
from services.settlement.services.statements.reads import citizen_lines, statement_fields

log = get_logger(__name__)


@dataclass(frozen=True)
class DraftView:
    """A draft as last prepared (or, issued, as issued): what its sha256, totals and number were."""

    draft_id: str
    programme_id: str
    period: str
    state: str
    number: int
    sha256: str
    line_count: int
    totals: dict[str, Decimal]
    prepared_by: list[str]
    prepared_at: datetime
    computed_at: datetime
    closed_by: str | None
    closed_at: datetime | None
    statement_id: str | None  # once issued: the statement (the same id)
    created: bool = False


def draft_view(row: StatementDraftRow, created: bool = False) -> DraftView:
    return DraftView(
        draft_id=row.draft_id,
        programme_id=row.programme_id,
        period=row.period,
        state=row.state,
        number=row.number,
        sha256=row.sha256,
        line_count=row.line_count,
        totals={name: Decimal(value) for name, value in row.totals.items()},
        prepared_by=list(row.prepared_by),
        prepared_at=as_utc(row.prepared_at),
        computed_at=as_utc(row.computed_at),
        closed_by=row.closed_by,
        closed_at=as_utc(row.closed_at) if row.closed_at else None,
        statement_id=row.draft_id if row.state == ISSUED else None,
        created=created,
    )


def _issued_view(statement: StatementRow) -> DraftView:
    """A statement issued before drafts existed, shown as the issued draft of its period."""
    return DraftView(
        draft_id=statement.statement_id,
        programme_id=statement.programme_id,
        period=statement.period,
        state=ISSUED,
        number=statement.number,
        sha256=statement.sha256,
        line_count=statement.line_count,
        totals={name: Decimal(value) for name, value in statement.content["totals"].items()},
        prepared_by=[statement.issued_by],
        prepared_at=as_utc(statement.issued_at),
        computed_at=as_utc(statement.issued_at),
        closed_by=statement.issued_by,
        closed_at=as_utc(statement.issued_at),
        statement_id=statement.statement_id,
    )


async def prepare_draft(
    database: Database, principal: Principal, programme_id: str, period: Month
) -> DraftView:
    """The period's open draft, computed now: made if there is none (``created``), else recomputed and
    its preparers joined by this one. A period already issued answers with its issued draft."""
    principal.require_programme(programme_id)
    period_text = str(period)
    async with UnitOfWork(database) as uow:
        await lock_programme(uow, programme_id)
        drafts, statements = DraftRepository(uow.session), StatementRepository(uow.session)
        issued = await statements.for_period(programme_id, period_text)
        if issued is not None:
            kept = await drafts.get(issued.statement_id)
            return draft_view(kept) if kept is not None else _issued_view(issued)
        latest = await statements.latest_period(programme_id)
        if latest is not None and period_text < latest:
            raise Conflict(
                f"Statements are issued in order; the latest is for {latest}.", latest_period=latest
            )
        row = await drafts.open_for(programme_id, period_text)
        created = row is None
        computed = await compute_statement(
            uow, await plan_statement(uow, programme_id, period, row.draft_id if row else str(uuid.uuid4()))
        )
        now = utcnow()
        if row is None:
            row = StatementDraftRow(
                draft_id=computed.plan.statement_id, programme_id=programme_id, period=period_text,
                state=OPEN, prepared_by=[principal.subject], prepared_at=now,
            )  # fmt: skip
            drafts.add(row)
        elif principal.subject not in row.prepared_by:
            row.prepared_by = [*row.prepared_by, principal.subject]  # a new list: JSON is saved on change
        row.computed_at, row.number, row.sha256 = now, computed.plan.number, computed.sha256
        row.line_count, row.totals = computed.line_count, computed.content["totals"]
        uow.emit(
            new_event(
                StatementDraftedV1(
                    draft_id=row.draft_id, programme_id=programme_id, period=period_text,
                    number=row.number, sha256=row.sha256, line_count=row.line_count,
                    totals=dict(vars(computed.totals)), prepared_by=principal.subject, created=created,
                    prepared_at=now,
                ),
                subject=f"programme/{programme_id}",
            )
        )  # fmt: skip
        await uow.commit()
    log.info("statement_drafted", programme_id=programme_id, period=period_text, created=created)
    return draft_view(row, created=created)


async def readable_draft(database: Database, principal: Principal, draft_id: str) -> StatementDraftRow:
    async with UnitOfWork(database, read_only=True) as uow:
        row = await DraftRepository(uow.session).get(draft_id)
    if row is None or not principal.can_access(row.programme_id):
        raise NotFound("No such draft.")
    return row


async def list_drafts(database: Database, principal: Principal, programme_id: str) -> list[DraftView]:
    """The programme's drafts, open, discarded and issued, in period order."""
    if not principal.can_access(programme_id):
        raise NotFound(f"No programme {programme_id}.")
    async with UnitOfWork(database, read_only=True) as uow:
        return [draft_view(row) for row in await DraftRepository(uow.session).of_programme(programme_id)]


async def discard_draft(database: Database, principal: Principal, draft_id: str) -> DraftView:
    """Discard an open draft (again: nothing changes); an issued one cannot be (409)."""
    async with UnitOfWork(database) as uow:
        drafts = DraftRepository(uow.session)
        row = await drafts.get(draft_id)
        if row is None or not principal.can_access(row.programme_id):
            raise NotFound("No such draft.")
        await lock_programme(uow, row.programme_id)
        row = await drafts.get(draft_id, fresh=True)
        assert row is not None
        if row.state == ISSUED:
            raise Conflict("The draft is issued already; it cannot be discarded.", statement_id=row.draft_id)
        if row.state == OPEN:
            row.state, row.closed_by, row.closed_at = DISCARDED, principal.subject, utcnow()
            await uow.commit()
            log.info("statement_draft_discarded", programme_id=row.programme_id, period=row.period)
    return draft_view(row)


@dataclass
class DraftDocument:
    """A draft's document for a reader: its lines (``lines``, a batch of line dicts at a time; computed
    afresh when the draft is open, as stored when issued, none when discarded), then its ``fields``:
    number, covers_through, terms_version, totals, line_count and sha256 as of those lines, and
    ``hashed``, the fields that sha256 covers (a discarded draft's covered its whole header)."""

    database: Database
    row: StatementDraftRow
    fields: dict[str, Any] = field(default_factory=dict)

    async def lines(self) -> AsyncIterator[list[dict[str, Any]]]:
        row = self.row
        if row.state == ISSUED:
            async with UnitOfWork(self.database, read_only=True) as uow:
                statement = await StatementRepository(uow.session).get(row.draft_id)
            assert statement is not None
            async for chunk in citizen_lines(self.database, statement):
                yield chunk
            self.fields = statement.content | {
                "line_count": statement.line_count,
                "sha256": statement.sha256,
                "hashed": statement_fields(statement)["hashed"],
            }
            return
        if row.state == DISCARDED:
            self.fields = {"number": row.number, "totals": row.totals, "line_count": row.line_count,
                           "sha256": row.sha256, "hashed": sorted([*HASHED_HEADER, "totals", "lines"])}  # fmt: skip
            return
        async with UnitOfWork(self.database, read_only=True) as uow:
            plan = await plan_statement(uow, row.programme_id, Month.parse(row.period), row.draft_id)
            run, writer = LineRun(uow, plan), HashWriter(plan.header(), keep=True)
            async for batch in run.batches():
                writer.add(batch)
                if kept := writer.take():
                    yield kept
        assert run.totals is not None
        content = plan.content(run.totals)
        sha256 = writer.hash.hexdigest(content)
        self.fields = content | {
            "line_count": writer.count,
            "sha256": sha256,
            "hashed": sorted([*content, "lines"]),
        }
