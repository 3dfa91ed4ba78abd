"""Corrections of months already invoiced (docs/domain.md "Data quality"): the adjustment lines of
the issued statements, counted and summed per statement and month corrected. Pure.

For a reader who may not see people, a statement's months go through the small-cell rule
(``disclosure.suppressed_groups``) against the statement's total, in lines (a statement has at most
one line per citizen and month), the statements' totals through it against the programme's total,
and a programme's total of 1 to ``minimum`` - 1 citizens is withheld."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from decimal import Decimal

from services.settlement.domain.disclosure import ZERO, suppressed_groups

# (statement_id, period, participant_id, month corrected, amount)
AdjustmentLine = tuple[str, str, str, str, Decimal]


@dataclass(frozen=True)
class MonthCorrections:
    month: str
    lines: int | None  # None: withheld
    amount_dkk: Decimal | None


@dataclass(frozen=True)
class StatementCorrections:
    statement_id: str
    period: str
    lines: int | None
    citizens: int | None
    amount_dkk: Decimal | None
    months: list[MonthCorrections]


@dataclass(frozen=True)
class Corrections:
    programme_id: str
    statements: list[StatementCorrections]
    lines: int | None
    citizens: int | None
    amount_dkk: Decimal | None
    suppressed: bool  # some figure withheld


@dataclass
class _Tally:
    lines: int = 0
    amount: Decimal = ZERO
    citizens: set[str] = field(default_factory=set)
    months: dict[str, tuple[int, Decimal]] = field(default_factory=dict)


def corrections(
    programme_id: str,
    issued: Iterable[tuple[str, str]],
    adjustments: Iterable[AdjustmentLine],
    minimum: int = 1,
) -> Corrections:
    """The adjustment lines folded per issued statement (``issued``: statement id and period; in period
    order, those without a correction too) and month; ``minimum`` 1 withholds nothing (the reader may
    see people)."""
    statements: dict[tuple[str, str], _Tally] = {(period, sid): _Tally() for sid, period in issued}
    everyone: set[str] = set()
    for statement_id, period, participant_id, month, amount in adjustments:
        tally = statements.setdefault((period, statement_id), _Tally())
        tally.lines += 1
        tally.amount += amount
        tally.citizens.add(participant_id)
        lines, total = tally.months.get(month, (0, ZERO))
        tally.months[month] = (lines + 1, total + amount)
        everyone.add(participant_id)
    withheld_any = False
    out = []
    # The statements' totals are cells of the programme's total shown beside them.
    hidden_statements = (
        suppressed_groups({sid: len(t.citizens) for (_, sid), t in statements.items()}, minimum)
        if minimum > 1
        else set()
    )
    for (period, statement_id), tally in sorted(statements.items()):
        few = statement_id in hidden_statements
        hidden = (
            suppressed_groups({m: n for m, (n, _) in tally.months.items()}, minimum) if minimum > 1 else set()
        )
        withheld_any |= few or bool(hidden)
        months = [
            MonthCorrections(month, None, None)
            if few or month in hidden
            else MonthCorrections(month, n, amount)
            for month, (n, amount) in sorted(tally.months.items())
        ]
        out.append(
            StatementCorrections(
                statement_id,
                period,
                None if few else tally.lines,
                None if few else len(tally.citizens),
                None if few else tally.amount,
                months,
            )
        )
    few = 0 < len(everyone) < minimum
    return Corrections(
        programme_id,
        out,
        None if few else sum(t.lines for t in statements.values()),
        None if few else len(everyone),
        None if few else sum((t.amount for t in statements.values()), ZERO),
        withheld_any or few,
    )
