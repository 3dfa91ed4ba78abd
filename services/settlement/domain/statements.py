"""Settlement statements (DOMAIN.md "Settlement statements").

A statement for period P covers every (citizen, month) with month <= P - settlement_lag_months that is
not provisional. Lines: ``fee`` for a month invoiced for the first time, ``adjustment`` for the
difference when a correction changed an invoiced month (referring to the line it corrects), and ``cap``
for the effect of the total cap. Everything is derived from cumulative amounts, so for every (citizen,
month) the sum of its lines over all statements equals its current fee, cumulative invoiced equals
min(cap, cumulative earned), and the investor/provider split of the cumulative total never depends on
the order of events or corrections.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from enum import StrEnum

from services.settlement.domain.months import ORE, Month

ZERO = Decimal("0.00")

Key = tuple[str, Month]  # (participant_id, month)


class LineKind(StrEnum):
    fee = "fee"
    adjustment = "adjustment"
    cap = "cap"


@dataclass(frozen=True)
class LineRef:
    statement_id: str
    line_no: int


@dataclass(frozen=True)
class Line:
    kind: LineKind
    amount: Decimal
    participant_id: str | None = None
    month: Month | None = None
    corrects: LineRef | None = None


@dataclass(frozen=True)
class IssuedLine:
    """A line of an already issued statement."""

    ref: LineRef
    line: Line


def participant_lines(current_fees: Mapping[Key, Decimal], issued: Sequence[IssuedLine]) -> list[Line]:
    """Fee and adjustment lines that bring every (citizen, month) to its current fee.

    ``current_fees`` holds every eligible (citizen, month); an invoiced month missing from it (its window
    shrank, say) now earns nothing and is adjusted to zero."""
    invoiced: dict[Key, Decimal] = {}
    last_ref: dict[Key, LineRef] = {}
    for item in issued:
        if item.line.kind is LineKind.cap or item.line.participant_id is None or item.line.month is None:
            continue
        key = (item.line.participant_id, item.line.month)
        invoiced[key] = invoiced.get(key, ZERO) + item.line.amount
        last_ref[key] = item.ref
    lines = []
    for key in sorted(set(current_fees) | set(invoiced)):
        participant_id, month = key
        current = current_fees.get(key, ZERO)
        if key not in invoiced:
            if current != ZERO:
                lines.append(Line(LineKind.fee, current, participant_id, month))
        elif current != invoiced[key]:
            lines.append(
                Line(LineKind.adjustment, current - invoiced[key], participant_id, month, last_ref[key])
            )
    return lines


def cap_effect(cumulative_earned: Decimal, total_cap: Decimal) -> Decimal:
    """What the cap takes off the cumulative amount: zero or negative."""
    return min(total_cap, cumulative_earned) - cumulative_earned


def split_cumulative(cumulative_invoiced: Decimal, investor_percent: Decimal) -> tuple[Decimal, Decimal]:
    """(investor, provider) of a cumulative amount; the provider gets the remainder, so they add up."""
    investor = (cumulative_invoiced * investor_percent / 100).quantize(ORE, rounding=ROUND_HALF_UP)
    return investor, cumulative_invoiced - investor


@dataclass(frozen=True)
class Totals:
    fees: Decimal
    adjustments: Decimal
    cap: Decimal
    net: Decimal
    cumulative_earned: Decimal
    cumulative_invoiced: Decimal
    investor: Decimal
    provider: Decimal
    cumulative_investor: Decimal
    cumulative_provider: Decimal


def build_statement(
    current_fees: Mapping[Key, Decimal],
    issued: Sequence[IssuedLine],
    total_cap: Decimal,
    investor_percent: Decimal,
) -> tuple[list[Line], Totals]:
    """The lines and totals of the next statement, given every line issued before it."""
    lines = participant_lines(current_fees, issued)
    previous_participant = sum((i.line.amount for i in issued if i.line.kind is not LineKind.cap), ZERO)
    previous_cap = sum((i.line.amount for i in issued if i.line.kind is LineKind.cap), ZERO)
    cumulative_earned = previous_participant + sum((line.amount for line in lines), ZERO)
    cap_line = cap_effect(cumulative_earned, total_cap) - previous_cap
    if cap_line != ZERO:
        lines.append(Line(LineKind.cap, cap_line))
    cumulative_invoiced = cumulative_earned + previous_cap + cap_line
    previous_invoiced = previous_participant + previous_cap
    investor_cum, provider_cum = split_cumulative(cumulative_invoiced, investor_percent)
    investor_prev, provider_prev = split_cumulative(previous_invoiced, investor_percent)
    totals = Totals(
        fees=sum((line.amount for line in lines if line.kind is LineKind.fee), ZERO),
        adjustments=sum((line.amount for line in lines if line.kind is LineKind.adjustment), ZERO),
        cap=cap_line,
        net=sum((line.amount for line in lines), ZERO),
        cumulative_earned=cumulative_earned,
        cumulative_invoiced=cumulative_invoiced,
        investor=investor_cum - investor_prev,
        provider=provider_cum - provider_prev,
        cumulative_investor=investor_cum,
        cumulative_provider=provider_cum,
    )
    return lines, totals


def canonical_json(content: object) -> bytes:
    """Sorted keys, no spaces, decimals and dates as strings: the bytes a statement's hash is over."""
    return json.dumps(
        content, sort_keys=True, separators=(",", ":"), default=str, ensure_ascii=False
    ).encode()


def content_hash(content: object) -> str:
    return hashlib.sha256(canonical_json(content)).hexdigest()
