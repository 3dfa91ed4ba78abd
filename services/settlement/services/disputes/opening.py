"""Opening a dispute on lines of an issued statement (the provider or the investor)."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from sqlalchemy.exc import IntegrityError

from libs.common.auth import Principal, Role
from libs.common.clock import as_utc, utcnow
from libs.common.contracts import DisputeOpenedV1
from libs.common.db import Database
from libs.common.errors import Conflict, NotFound, ValidationFailed
from libs.common.events import new_event
from libs.common.ids import uuid4_str
from libs.common.uow import UnitOfWork
from services.settlement.domain.disputes import (
    DisputeRefused,
    DisputeState,
    ReasonCode,
    check_kind,
    check_window,
    held_shares,
)
from services.settlement.models import DisputeLineRow, DisputeRow, DisputeStepRow
from services.settlement.repository import DisputeRepository
from services.settlement.services.disputes.views import DisputeView, dispute_view
from services.settlement.services.programme_facts import terms_versions

ZERO = Decimal("0.00")


@dataclass(frozen=True)
class Target:
    """What is disputed: one line by number (the provider), or a (month, kind) cell of the investor's
    view of the statement, which holds the lines of that month and kind."""

    line_no: int | None = None
    month: str | None = None
    kind: str | None = None


@dataclass(frozen=True)
class Opened:
    view: DisputeView
    created: bool


def _refused(exc: DisputeRefused) -> ValidationFailed:
    return ValidationFailed.for_field(exc.field or "body", exc.message)


async def open_dispute(
    database: Database,
    principal: Principal,
    statement_id: str,
    target: Target,
    reason_code: ReasonCode,
    text: str,
    evidence: dict[str, list[str]],
) -> Opened:
    """Open a dispute; the same opener disputing the same open target again gets that dispute back
    (a retry); a line another open dispute holds is a 409."""
    try:
        return await _open(database, principal, statement_id, target, reason_code, text, evidence)
    except IntegrityError:
        # A concurrent opening took the line first: answer as if this one came after it.
        return await _open(database, principal, statement_id, target, reason_code, text, evidence)


async def _open(
    database: Database,
    principal: Principal,
    statement_id: str,
    target: Target,
    reason_code: ReasonCode,
    text: str,
    evidence: dict[str, list[str]],
) -> Opened:
    if principal.role is Role.investor and target.line_no is not None:
        raise ValidationFailed.for_field(
            "line_no", "the investor disputes a (month, kind) cell of its view of the statement"
        )
    now = utcnow()
    async with UnitOfWork(database) as uow:
        disputes = DisputeRepository(uow.session)
        statement = await disputes.statement_for_update(statement_id)
        if statement is None or not principal.can_access(statement.programme_id):
            raise NotFound("No such statement.")
        lines = await disputes.statement_lines(statement_id, target.line_no, target.month, target.kind)
        try:
            if target.line_no is not None:
                if not lines:
                    raise ValidationFailed.for_field("line_no", "the statement has no such line")
                check_kind(lines[0].kind, "line_no")
            else:
                check_kind(target.kind or "", "kind")
                if not lines:
                    raise ValidationFailed.for_field(
                        "month", "the statement has no lines of this month and kind"
                    )
            versions = {v.version: v for v in await terms_versions(uow, statement.programme_id)}
            terms = versions[statement.content["terms_version"]].terms
            check_window(as_utc(statement.issued_at), terms.dispute_window_days, now)
        except DisputeRefused as exc:
            raise _refused(exc) from None
        line_nos = [line.line_no for line in lines]
        holding = await disputes.holding(statement_id, line_nos)
        if holding:
            existing = await disputes.get(holding[0])
            assert existing is not None
            same = (existing.line_no, existing.month, existing.kind) == (
                target.line_no,
                lines[0].month,
                lines[0].kind,
            )
            if len(holding) == 1 and same and existing.opened_by == principal.subject:
                view = dispute_view(
                    existing,
                    await disputes.lines(existing.dispute_id),
                    await disputes.steps(existing.dispute_id),
                    principal,
                    now,
                )
                return Opened(view, created=False)
            raise Conflict("An open dispute holds this line already.", dispute_id=holding[0])
        amount = sum((line.amount_dkk for line in lines), ZERO)
        investor, provider = held_shares(amount, terms.split.investor_percent)
        row = DisputeRow(
            dispute_id=uuid4_str(),
            programme_id=statement.programme_id,
            statement_id=statement_id,
            line_no=target.line_no,
            month=str(lines[0].month),
            kind=lines[0].kind,
            reason_code=reason_code.value,
            text=text,
            evidence=evidence,
            amount_dkk=amount,
            investor_dkk=investor,
            provider_dkk=provider,
            citizens=len({line.participant_id for line in lines}),
            state=DisputeState.open.value,
            opened_by=principal.subject,
            opened_role=principal.role.value,
            opened_at=now,
        )
        disputes.add(row)
        await disputes.flush()
        held = [
            DisputeLineRow(
                dispute_id=row.dispute_id,
                line_no=line.line_no,
                statement_id=statement_id,
                participant_id=str(line.participant_id),
                month=str(line.month),
                amount_dkk=line.amount_dkk,
                held=True,
            )
            for line in lines
        ]
        step = DisputeStepRow(
            dispute_id=row.dispute_id, seq=1, step="opened", by_subject=principal.subject,
            by_role=principal.role.value, at=now, reason=None,
        )  # fmt: skip
        for line_row in held:
            disputes.add(line_row)
        disputes.add(step)
        uow.emit(
            new_event(
                DisputeOpenedV1(
                    dispute_id=row.dispute_id,
                    programme_id=row.programme_id,
                    statement_id=statement_id,
                    month=row.month,
                    kind=row.kind,
                    reason_code=row.reason_code,
                    amount_dkk=amount,
                    investor_dkk=investor,
                    provider_dkk=provider,
                    lines=len(lines),
                    opened_by_role=row.opened_role,
                    opened_at=now,
                ),
                subject=f"programme/{row.programme_id}",
            )
        )
        await uow.commit()
    return Opened(dispute_view(row, held, [step], principal, now), created=True)
