"""Approving a draft (docs/domain.md "Statement lifecycle"): a finance officer who did not prepare it
names the sha256 they reviewed; the statement is issued under the draft's id in the same transaction
and must hash to that sha256, or nothing is kept (409: the draft changed)."""

from __future__ import annotations

from dataclasses import dataclass

from libs.common.auth import Principal
from libs.common.clock import utcnow
from libs.common.contracts import StatementApprovedV1
from libs.common.db import Database
from libs.common.errors import Conflict, Forbidden, NotFound
from libs.common.events import new_event
from libs.common.logging import get_logger
from libs.common.uow import UnitOfWork
from services.settlement.domain import Month
from services.settlement.models import StatementRow
from services.settlement.repository import DraftRepository, StatementRepository
from services.settlement.repository.drafts import DISCARDED, ISSUED
from services.settlement.services.statements.compute import lock_programme
from services.settlement.services.statements.issue import issue_in

log = get_logger(__name__)
FOUR_EYES = "four-eyes"


@dataclass(frozen=True)
class Approved:
    statement: StatementRow
    created: bool  # False: the draft was issued already with this sha256 (a retry)


async def approve_draft(database: Database, principal: Principal, draft_id: str, sha256: str) -> Approved:
    """Issue the draft as reviewed: exactly the document of ``sha256``, numbered, immutable. The
    approver never prepared it (403); a discarded draft, or one whose content changed since it was
    reviewed, is not issued (409, the latter with the current sha256)."""
    async with UnitOfWork(database) as uow:
        drafts = DraftRepository(uow.session)
        draft = await drafts.get(draft_id)
        if draft is None or not principal.can_access(draft.programme_id):
            raise NotFound("No such draft.")
        await lock_programme(uow, draft.programme_id)
        draft = await drafts.get(draft_id, fresh=True)
        assert draft is not None
        if principal.subject in draft.prepared_by:
            raise Forbidden(
                "Four eyes: a statement is approved by someone other than whoever prepared its draft.",
                rule=FOUR_EYES,
            )
        if draft.state == ISSUED:
            statement = await StatementRepository(uow.session).get(draft_id)
            assert statement is not None
            if statement.sha256 != sha256:
                raise Conflict(
                    "The draft was issued already, with another sha256.",
                    statement_id=draft_id, sha256=statement.sha256,
                )  # fmt: skip
            return Approved(statement, created=False)
        if draft.state == DISCARDED:
            raise Conflict("The draft was discarded; prepare the period's statement again.")
        # The programme is locked above: issue_in relies on it (and refuses a changed draft with 409).
        issued = await issue_in(
            uow, draft.programme_id, Month.parse(draft.period), draft_id, principal.subject, sha256
        )
        statement = issued.statement
        now = utcnow()
        draft.state, draft.closed_by, draft.closed_at = ISSUED, principal.subject, now
        draft.number, draft.sha256, draft.line_count = (
            statement.number,
            statement.sha256,
            statement.line_count,
        )
        draft.totals, draft.computed_at = statement.content["totals"], now
        uow.emit(
            new_event(
                StatementApprovedV1(
                    draft_id=draft_id, statement_id=statement.statement_id,
                    programme_id=draft.programme_id, period=draft.period, number=statement.number,
                    sha256=statement.sha256, approved_by=principal.subject,
                    prepared_by=list(draft.prepared_by), approved_at=now,
                ),
                subject=f"programme/{draft.programme_id}",
            )
        )  # fmt: skip
        await uow.commit()
    log.info("statement_approved", programme_id=statement.programme_id, period=statement.period)
    return Approved(statement, created=True)
