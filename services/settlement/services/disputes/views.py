"""A dispute as its reader may see it.

Jobcenter, provider, finance and admin (who read a statement's citizen lines) see everything: the lines
a dispute covers with their participant ids, the line number, the text and the evidence. The investor
sees the dispute's statement, month, kind, reason, amounts, state and steps, never a participant
id, line number or evidence; the text only when it opened it. Its view also follows the
small-cell rule (domain/disclosure.py): the amounts of a dispute covering fewer than ``MIN_CITIZENS``
citizens are withheld, and so are the held totals when the withheld disputes together cover 1 to
``MIN_CITIZENS`` - 1 citizens, so no withheld amount is the remainder of figures shown."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from libs.common.auth import Principal, Role
from libs.common.clock import as_utc
from services.settlement.domain.disclosure import MIN_CITIZENS
from services.settlement.domain.disputes import age_days
from services.settlement.models import DisputeLineRow, DisputeRow, DisputeStepRow
from services.settlement.services.statements import reads_citizen_lines

ZERO = Decimal("0.00")


@dataclass(frozen=True)
class DisputedLine:
    line_no: int
    participant_id: str
    month: str
    amount_dkk: Decimal


@dataclass(frozen=True)
class Step:
    step: str  # opened, upheld, rejected, withdrawn
    by: str | None  # the sub; None for the investor, who sees the role only
    by_role: str
    at: datetime
    reason: str | None


@dataclass(frozen=True)
class DisputeView:
    dispute_id: str
    programme_id: str
    statement_id: str
    line_no: int | None  # None: a (month, kind) cell, or not shown to this reader
    month: str
    kind: str
    reason_code: str
    text: str | None
    evidence: dict[str, list[str]] | None
    amount_dkk: Decimal | None
    investor_dkk: Decimal | None
    provider_dkk: Decimal | None
    amounts_suppressed: bool
    state: str
    held: bool
    opened_by_role: str
    opened_at: datetime
    closed_at: datetime | None
    resolution_reason: str | None
    age_days: int
    lines: list[DisputedLine] | None
    steps: list[Step]


@dataclass(frozen=True)
class HeldTotals:
    """What open disputes hold in a programme: owed, not payable until they are resolved."""

    open_disputes: int
    held_dkk: Decimal | None
    investor_dkk: Decimal | None
    provider_dkk: Decimal | None
    suppressed: bool


@dataclass(frozen=True)
class DisputeList:
    items: list[DisputeView]
    held: HeldTotals


def small(row: DisputeRow, principal: Principal) -> bool:
    return principal.role is Role.investor and row.citizens < MIN_CITIZENS


def dispute_view(
    row: DisputeRow,
    lines: Sequence[DisputeLineRow] | None,
    steps: Sequence[DisputeStepRow],
    principal: Principal,
    now: datetime,
) -> DisputeView:
    full = reads_citizen_lines(principal)
    own = principal.subject == row.opened_by
    hidden = small(row, principal)
    investor = principal.role is Role.investor
    closed_at = as_utc(row.closed_at) if row.closed_at else None
    return DisputeView(
        dispute_id=row.dispute_id,
        programme_id=row.programme_id,
        statement_id=row.statement_id,
        line_no=row.line_no if full else None,
        month=row.month,
        kind=row.kind,
        reason_code=row.reason_code,
        text=row.text if full or own else None,
        evidence=row.evidence if full else None,
        amount_dkk=None if hidden else row.amount_dkk,
        investor_dkk=None if hidden else row.investor_dkk,
        provider_dkk=None if hidden else row.provider_dkk,
        amounts_suppressed=hidden,
        state=row.state,
        held=row.state == "open",
        opened_by_role=row.opened_role,
        opened_at=as_utc(row.opened_at),
        closed_at=closed_at,
        resolution_reason=row.resolution_reason,
        age_days=age_days(as_utc(row.opened_at), closed_at, now),
        lines=[DisputedLine(x.line_no, x.participant_id, x.month, x.amount_dkk) for x in lines or ()]
        if full
        else None,
        steps=[
            Step(s.step, None if investor else s.by_subject, s.by_role, as_utc(s.at), s.reason) for s in steps
        ],
    )


def held_totals(
    open_rows: Sequence[DisputeRow], citizens: dict[str, set[str]], principal: Principal
) -> HeldTotals:
    """The held totals of the open disputes, withheld from the investor when the disputes it cannot see
    the amounts of together cover 1 to ``MIN_CITIZENS`` - 1 citizens."""
    withheld: set[str] = set()
    for row in open_rows:
        if small(row, principal):
            withheld |= citizens.get(row.dispute_id, set())
    if 0 < len(withheld) < MIN_CITIZENS:
        return HeldTotals(len(open_rows), None, None, None, suppressed=True)
    return HeldTotals(
        len(open_rows),
        sum((r.amount_dkk for r in open_rows), ZERO),
        sum((r.investor_dkk for r in open_rows), ZERO),
        sum((r.provider_dkk for r in open_rows), ZERO),
        suppressed=False,
    )
