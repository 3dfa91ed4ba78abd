"""How an issued statement becomes a creditor's document lines.

A statement has a line per (citizen, month) and kind; a creditor's document has one line per kind the
statement holds, with the creditor's part of it and no person on it:

- ``fees``: fees earned by months invoiced for the first time (the statement's ``fee`` lines);
- ``adjustments``: corrections of months invoiced before (its ``adjustment`` lines, either sign);
- ``cap``: what the programme's total cap takes off (its ``cap`` line, zero or negative).

Every citizen-month is in the attached CSV (``attachment.py``), so the municipality can check each one.
The split between investor and provider is applied to cumulative amounts (settlement's
``domain/statements.py``), so a creditor's share of one statement is not exactly its fraction of each
kind: each kind's part is the kind's amount times the fraction, rounded half-up to øre, and the few øre
left to reach the share go to the line of the largest amount, so the lines add up to the share exactly.
A kind whose part is zero is left out.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal

from services.settlement.einvoice.model import ORE, ZERO, DocumentLine


@dataclass(frozen=True)
class StatementKinds:
    """A statement's totals per kind of line (the whole statement, before the split)."""

    fees: Decimal
    adjustments: Decimal
    cap: Decimal

    @property
    def net(self) -> Decimal:
        return self.fees + self.adjustments + self.cap


KINDS = (
    ("fees", "Fees earned", "fee"),
    ("adjustments", "Corrections of months invoiced before", "adjustment"),
    ("cap", "Effect of the programme's total cap", "cap"),
)


def share_lines(
    kinds: StatementKinds, share: Decimal, fraction: Decimal, statement_number: str
) -> tuple[DocumentLine, ...]:
    """The creditor's lines of one statement: they add up to ``share`` (the creditor's part of the
    statement, signed), ``fraction`` being the creditor's part of the split (0 < fraction <= 1)."""
    if not ZERO < fraction <= 1:
        raise ValueError("a creditor's fraction of the split is above 0 and at most 1")
    if share == ZERO:
        raise ValueError("a share of zero makes no document")
    parts: dict[str, Decimal] = {}
    for attribute, _, _ in KINDS:
        amount: Decimal = getattr(kinds, attribute)
        if amount != ZERO:
            parts[attribute] = (amount * fraction).quantize(ORE, rounding=ROUND_HALF_UP)
    if not parts:
        raise ValueError("a statement without amounts gives no share")
    rest = share - sum(parts.values(), ZERO)
    # The line of the largest part takes the rounding; on a tie, the first kind.
    largest = max(parts, key=lambda name: abs(parts[name]))
    parts[largest] += rest
    return tuple(
        DocumentLine(
            line_id=str(number),
            name=name,
            amount=parts[attribute],
            description=f"Statement {statement_number}: its {kind} lines, listed in the attached CSV",
        )
        for number, (attribute, name, kind) in enumerate(
            (item for item in KINDS if parts.get(item[0], ZERO) != ZERO), start=1
        )
    )
