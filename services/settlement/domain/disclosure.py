"""What an aggregate may show to a reader who may not see people (the investor): docs/domain.md
"Roles" and docs/security.md "Small cells". Pure: no framework, no database.

One rule for every aggregate such a reader gets: a figure made from fewer than ``MIN_CITIZENS``
citizens is suppressed (no count, no amount), and no suppressed figure may be recoverable by
subtracting the figures shown from a total shown beside them. Where a total is shown, the cells it
sums that are suppressed must together cover no citizen or at least ``MIN_CITIZENS`` of them; when
they do not, the smallest shown cell is suppressed too (complementary suppression), so the remainder
(the total minus the cells shown) is again an aggregate of at least ``MIN_CITIZENS`` citizens.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from decimal import Decimal

from libs.rules.disclosure import MIN_CITIZENS as MIN_CITIZENS
from libs.rules.disclosure import suppressed_groups as suppressed_groups
from services.settlement.domain.outcomes import OutcomeReport

ZERO = Decimal("0.00")

# The statement's kinds of citizen lines, and the totals that sum each (``Totals.fees``, ``.adjustments``).
KIND_TOTALS = {"fee": "fees", "adjustment": "adjustments"}


@dataclass
class _Tally:
    lines: int = 0
    amount: Decimal = ZERO
    # The citizens of a cell while it has fewer than MIN_CITIZENS lines (a statement has one line per
    # citizen and month, so a cell's lines are its citizens): enough to count the distinct citizens of
    # suppressed cells taken together, without holding the ids of a large statement.
    few: set[str] = field(default_factory=set)


@dataclass(frozen=True)
class Cell:
    """A (month, kind) of a statement as the investor sees it. ``citizens`` and ``amount`` are None
    when suppressed. The cap is a programme's figure, no citizen's: month and citizens None."""

    month: str | None
    kind: str
    citizens: int | None
    amount: Decimal | None
    suppressed: bool


class StatementCells:
    """Folds a statement's lines, in any order and a chunk at a time, into cells per (month, kind),
    then applies the small-cell rule against the totals the statement shows.

    The net (and the parties' shares and the cumulative amounts) is the invoice itself and always
    shown, so the remainder of every suppressed cell taken together is always known; the totals per
    kind (``fees``, ``adjustments``) are shown only while withholding them is not needed."""

    def __init__(self, minimum: int = MIN_CITIZENS) -> None:
        self.minimum = minimum
        self._cells: dict[tuple[str, str], _Tally] = {}
        self._cap: Decimal | None = None

    def add(self, kind: str, participant_id: str | None, month: str | None, amount: Decimal) -> None:
        if participant_id is None or month is None:  # the cap line
            self._cap = amount if self._cap is None else self._cap + amount
            return
        tally = self._cells.setdefault((month, kind), _Tally())
        tally.lines += 1
        tally.amount += amount
        if tally.lines < self.minimum:
            tally.few.add(participant_id)
        else:
            tally.few.clear()

    def _citizens(self, keys: Iterable[tuple[str, str]]) -> int:
        """Distinct citizens of these cells, counted exactly below ``minimum`` (a cell of at least
        ``minimum`` lines makes it ``minimum``)."""
        seen: set[str] = set()
        for key in keys:
            tally = self._cells[key]
            if tally.lines >= self.minimum:
                return self.minimum
            seen |= tally.few
        return len(seen)

    def _complete(self, suppressed: set[tuple[str, str]], candidates: list[tuple[str, str]]) -> bool:
        """Suppress the smallest of ``candidates`` (cells still shown) while the suppressed cells among
        them and ``suppressed`` cover 1 to ``minimum`` - 1 citizens; False if they still do."""
        pool = [key for key in candidates if key not in suppressed]
        pool.sort(key=lambda key: (self._cells[key].lines, key))
        scope = set(candidates) & suppressed
        while 0 < self._citizens(scope) < self.minimum:
            if not pool:
                return False
            key = pool.pop(0)
            suppressed.add(key)
            scope.add(key)
        return True

    def result(self) -> tuple[list[Cell], set[str]]:
        """The cells in (month, kind) order, the cap last, and the names of the totals to withhold."""
        suppressed = {key for key, tally in self._cells.items() if tally.lines < self.minimum}
        withheld: set[str] = set()
        for kind, total in KIND_TOTALS.items():
            of_kind = [key for key in self._cells if key[1] == kind]
            if not self._complete(suppressed, of_kind):
                withheld.add(total)
        if withheld:
            # Net = fees + adjustments + cap is shown: one kind's total beside it gives the other's.
            withheld = set(KIND_TOTALS.values())
            # What is left is the net minus the cap and the cells shown; when every citizen line of the
            # statement is from fewer than ``minimum`` citizens, the invoice itself tells their sum.
            self._complete(suppressed, list(self._cells))
        cells = [
            Cell(month, kind, None, None, True)
            if (month, kind) in suppressed
            else Cell(month, kind, tally.lines, tally.amount, False)
            for (month, kind), tally in sorted(self._cells.items())
        ]
        if self._cap is not None:
            cells.append(Cell(None, "cap", None, self._cap, False))
        return cells, withheld


def withhold_small_outcomes(report: OutcomeReport, minimum: int = MIN_CITIZENS) -> OutcomeReport:
    """The outcome report (``services/outcomes.py: outcomes``) under the small-cell rule; ``minimum``
    1 withholds nothing (the reader may see people) and only sets the flags.

    Per track: the mean over complete windows is withheld when 1 to ``minimum`` - 1 windows are
    complete (``mean_weeks_complete_windows_suppressed``); the projected mean of its citizens when the
    track is a group ``suppressed_groups`` withholds, so that the overall mean beside them cannot give
    a withheld track's mean back (``mean_weeks_projected_suppressed``). The overall figures that come
    from the citizens' own weeks are withheld when the whole cohort has 1 to ``minimum`` - 1 citizens
    (``suppressed``); the counts of citizens and of complete windows are the seats filled and closed,
    which the investor funds, and stay."""
    hidden = suppressed_groups({t.track: t.participants for t in report.tracks}, minimum)
    tracks = []
    for track in report.tracks:
        small = 0 < track.windows_complete < minimum
        withheld = track.track in hidden
        tracks.append(
            replace(
                track,
                mean_weeks_complete_windows=None if small else track.mean_weeks_complete_windows,
                mean_weeks_complete_windows_suppressed=small,
                mean_weeks_projected=None if withheld else track.mean_weeks_projected,
                mean_weeks_projected_suppressed=withheld,
            )
        )
    if not 0 < report.participants < minimum:
        return replace(report, tracks=tracks, suppressed=False)
    return replace(
        report,
        tracks=tracks,
        suppressed=True,
        mean_weeks=None,
        effect_weeks=None,
        effect_ci95=None,
        target_met=None,
        target_met_at_95=None,
    )
