"""A statement's lines and totals (DOMAIN.md "Settlement statements").

A statement for period P covers every (citizen, month) with month <= P - settlement_lag_months that is
not provisional. Lines: ``fee`` for a month invoiced for the first time, ``adjustment`` for the
difference when a correction changed an invoiced month (referring to the line it corrects), and ``cap``
for the effect of the total cap. Everything is derived from cumulative amounts, so for every (citizen,
month) the sum of its lines over all statements equals its current fee, cumulative invoiced equals
min(cap, cumulative earned), and the investor/provider split of the cumulative total never depends on
the order of events or corrections.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
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


CURRENT = 0  # a ledger row holding a (citizen, month)'s current fee
INVOICED = 1  # a ledger row holding an issued line of it

# (participant_id, month "YYYY-MM", CURRENT or INVOICED, amount, statement_id, line_no): the current fee
# of an eligible (citizen, month), or one of its issued fee/adjustment lines (never a cap line). The
# amount may come as its exact decimal text (SQLite stores money as text): it is read with Decimal().
LedgerRow = tuple[str, str, int, Decimal | str, str | None, int | None]


# A line of the statement being issued, as plain values (a statement can hold millions): kind,
# participant_id, month "YYYY-MM", amount, corrects_statement_id, corrects_line_no.
NewLine = tuple[LineKind, str | None, str | None, Decimal, str | None, int | None]


def _closing_line(
    key: tuple[str, str],
    current: Decimal | None,
    invoiced: Decimal | None,
    ref: tuple[str | None, int | None],
) -> NewLine | None:
    """The line that brings one (citizen, month) from what was invoiced to its current fee, if any."""
    participant_id, month = key
    if invoiced is None:
        if current is None or current == ZERO:
            return None
        return (LineKind.fee, participant_id, month, current, None, None)
    amount = (ZERO if current is None else current) - invoiced
    if amount == ZERO:
        return None
    return (LineKind.adjustment, participant_id, month, amount, ref[0], ref[1])


class LineStream:
    """Fee and adjustment lines from the ledger rows of a programme, sorted by (participant_id, month,
    CURRENT before INVOICED, issue order); one (citizen, month) at a time, so a statement of any size
    is made in constant memory. Counts what it has seen for the totals. A (citizen, month) without a
    CURRENT row earns nothing now (its window shrank, say, or its fee is 0): the rows of fees of 0 may
    be left out.

    ``settled``: erased participants, whose invoiced months stand as issued: their months are gone from
    the ledger, which is no correction, so their lines count in the totals but make no new line."""

    def __init__(self, settled: frozenset[str] = frozenset()) -> None:
        self.settled = settled
        self.previous = ZERO  # the issued fee and adjustment lines, all statements
        self.fees = ZERO
        self.adjustments = ZERO
        self.count = 0
        self._key: tuple[str, str] | None = None
        self._current: Decimal | None = None
        self._invoiced: Decimal | None = None
        self._ref: tuple[str | None, int | None] = (None, None)

    def feed(self, rows: Iterable[LedgerRow]) -> list[NewLine]:
        """The lines of every (citizen, month) completed by these rows (the last one stays open)."""
        out: list[NewLine] = []
        # The hot loop of a statement (a row per eligible month and per issued line): locals only.
        key, current, invoiced, ref = self._key, self._current, self._invoiced, self._ref
        previous, settled = self.previous, self.settled
        for participant_id, month, source, amount, statement_id, line_no in rows:
            if key is None or month != key[1] or participant_id != key[0]:
                if key is not None and key[0] not in settled:
                    line = _closing_line(key, current, invoiced, ref)
                    if line is not None:
                        out.append(line)
                key, current, invoiced = (participant_id, month), None, None
            value = Decimal(amount)
            if source == CURRENT:
                current = value
            else:
                invoiced = value if invoiced is None else invoiced + value
                ref = (statement_id, line_no)
                previous += value
        self._key, self._current, self._invoiced, self._ref = key, current, invoiced, ref
        self.previous = previous
        self._count(out)
        return out

    def finish(self) -> list[NewLine]:
        out: list[NewLine] = []
        if self._key is not None and self._key[0] not in self.settled:
            line = _closing_line(self._key, self._current, self._invoiced, self._ref)
            out = [line] if line is not None else []
        self._key = None
        self._count(out)
        return out

    def _count(self, lines: list[NewLine]) -> None:
        self.fees += sum((line[3] for line in lines if line[0] is LineKind.fee), ZERO)
        self.adjustments += sum((line[3] for line in lines if line[0] is LineKind.adjustment), ZERO)
        self.count += len(lines)


def ledger_rows(current_fees: Mapping[Key, Decimal], issued: Sequence[IssuedLine]) -> list[LedgerRow]:
    """The sorted ledger rows of in-memory fees and issued lines (what the database query returns)."""
    rows: list[tuple[str, str, int, int, Decimal, str | None, int | None]] = [
        (participant_id, str(month), CURRENT, 0, fee, None, None)
        for (participant_id, month), fee in current_fees.items()
    ]
    for order, item in enumerate(issued, start=1):
        line = item.line
        if line.kind is LineKind.cap or line.participant_id is None or line.month is None:
            continue
        ref = item.ref
        rows.append(
            (
                line.participant_id,
                str(line.month),
                INVOICED,
                order,
                line.amount,
                ref.statement_id,
                ref.line_no,
            )
        )
    rows.sort(key=lambda row: row[:4])
    return [(p, m, source, amount, sid, no) for p, m, source, _, amount, sid, no in rows]


def participant_lines(current_fees: Mapping[Key, Decimal], issued: Sequence[IssuedLine]) -> list[Line]:
    """Fee and adjustment lines that bring every (citizen, month) to its current fee.

    ``current_fees`` holds every eligible (citizen, month); an invoiced month missing from it (its window
    shrank, say) now earns nothing and is adjusted to zero."""
    stream = LineStream()
    new = stream.feed(ledger_rows(current_fees, issued)) + stream.finish()
    return [to_line(line) for line in new]


def to_line(line: NewLine) -> Line:
    kind, participant_id, month, amount, corrects_statement_id, corrects_line_no = line
    corrects = (
        LineRef(corrects_statement_id, corrects_line_no)
        if corrects_statement_id is not None and corrects_line_no is not None
        else None
    )
    return Line(kind, amount, participant_id, Month.parse(month) if month else None, corrects)


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
    settled: frozenset[str] = frozenset(),
) -> tuple[list[Line], Totals]:
    """The lines and totals of the next statement, given every line issued before it (``settled``: the
    erased participants, as ``LineStream`` takes them)."""
    stream = LineStream(settled)
    new = stream.feed(ledger_rows(current_fees, issued)) + stream.finish()
    previous_cap = sum((i.line.amount for i in issued if i.line.kind is LineKind.cap), ZERO)
    cap_line, totals = finish_statement(stream, previous_cap, total_cap, investor_percent)
    return [to_line(line) for line in ([*new, cap_line] if cap_line else new)], totals


def finish_statement(
    stream: LineStream, previous_cap: Decimal, total_cap: Decimal, investor_percent: Decimal
) -> tuple[NewLine | None, Totals]:
    """The cap line (None when the cap changes nothing) and the totals, once every line is streamed;
    ``previous_cap`` is the sum of the cap lines issued before."""
    cumulative_earned = stream.previous + stream.fees + stream.adjustments
    cap_amount = cap_effect(cumulative_earned, total_cap) - previous_cap
    cap_line: NewLine | None = (
        (LineKind.cap, None, None, cap_amount, None, None) if cap_amount != ZERO else None
    )
    cumulative_invoiced = cumulative_earned + previous_cap + cap_amount
    previous_invoiced = stream.previous + previous_cap
    investor_cum, provider_cum = split_cumulative(cumulative_invoiced, investor_percent)
    investor_prev, provider_prev = split_cumulative(previous_invoiced, investor_percent)
    totals = Totals(
        fees=stream.fees,
        adjustments=stream.adjustments,
        cap=cap_amount,
        net=stream.fees + stream.adjustments + cap_amount,
        cumulative_earned=cumulative_earned,
        cumulative_invoiced=cumulative_invoiced,
        investor=investor_cum - investor_prev,
        provider=provider_cum - provider_prev,
        cumulative_investor=investor_cum,
        cumulative_provider=provider_cum,
    )
    return cap_line, totals
