"""Outcome evaluation (DOMAIN.md "Outcome evaluation"): self-supporting weeks in the 104 weeks from
enrolment, the cohort against the control baseline, a bootstrap confidence interval, and a
projection for windows still open. Pure: no framework, no database.

- A week is a 7-day block counted from the enrolment date; it counts when all 7 days are
  self-supporting (one day on a benefit marks the week, as in DREAM).
- A week is observed when its last day is on or before the data cut-off; later weeks are not known.
- Intention to treat: every enrolled citizen stays in the cohort, withdrawn or not; their statuses
  keep counting after a withdrawal.
- Projection for an open window: the observed self-supporting weeks plus the remaining weeks times
  the citizen's own self-supporting share over their last (up to) 13 observed weeks; with no
  observed week yet, the control baseline share of their track. It is labelled a projection.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal

from libs.rules.timeline import DayCategory

WINDOW_WEEKS = 104
RECENT_WEEKS = 13
CENT = Decimal("0.01")


def q(value: Decimal) -> Decimal:
    return value.quantize(CENT, rounding=ROUND_HALF_UP)


@dataclass(frozen=True)
class WeekCount:
    """``weeks[i]``: True self-supporting, False not, None not observed yet."""

    weeks: tuple[bool | None, ...]

    @property
    def observed(self) -> int:
        return sum(1 for w in self.weeks if w is not None)

    @property
    def self_supporting(self) -> int:
        return sum(1 for w in self.weeks if w is True)

    @property
    def complete(self) -> bool:
        return self.observed == WINDOW_WEEKS


def count_weeks(
    enrolled_on: date, category_of: Callable[[date], DayCategory], cutoff: date | None
) -> WeekCount:
    weeks: list[bool | None] = []
    for index in range(WINDOW_WEEKS):
        start = enrolled_on + timedelta(days=7 * index)
        end = start + timedelta(days=6)
        if cutoff is None or end > cutoff:
            weeks.append(None)
            continue
        weeks.append(
            all(category_of(start + timedelta(days=d)) is DayCategory.self_supporting for d in range(7))
        )
    return WeekCount(tuple(weeks))


def recent_share(count: WeekCount, baseline_weeks: Decimal) -> Decimal:
    """The self-supporting share of the last (up to) 13 observed weeks; the baseline's share before
    any week is observed. Projects open windows, and the fees of their remaining months."""
    recent = [w for w in count.weeks if w is not None][-RECENT_WEEKS:]
    if not recent:
        return baseline_weeks / Decimal(WINDOW_WEEKS)
    return Decimal(sum(1 for w in recent if w)) / Decimal(len(recent))


def projected_weeks(count: WeekCount, baseline_weeks: Decimal) -> Decimal:
    """Observed self-supporting weeks plus the projection of the weeks not observed yet."""
    remaining = WINDOW_WEEKS - count.observed
    if remaining == 0:
        return Decimal(count.self_supporting)
    return q(Decimal(count.self_supporting) + recent_share(count, baseline_weeks) * remaining)


@dataclass(frozen=True)
class Subject:
    """One citizen of the cohort: track and projected self-supporting weeks of the 104."""

    track: str
    weeks: Decimal


def weighted_baseline(subjects: Sequence[Subject], baseline: Mapping[str, Decimal]) -> Decimal:
    """The control baseline weighted by the cohort's track mix."""
    if not subjects:
        return Decimal("0")
    total = sum((baseline.get(s.track, Decimal("0")) for s in subjects), Decimal("0"))
    return total / len(subjects)


def mean(values: Sequence[Decimal]) -> Decimal | None:
    return sum(values, Decimal("0")) / len(values) if values else None


def effect(subjects: Sequence[Subject], baseline: Mapping[str, Decimal]) -> Decimal:
    """Cohort mean minus the track-mix-weighted baseline (exact: the same as the mean of each
    citizen's weeks minus their own track's baseline)."""
    m = mean([s.weeks for s in subjects])
    return Decimal("0") if m is None else m - weighted_baseline(subjects, baseline)


@dataclass(frozen=True)
class Interval:
    low: Decimal
    high: Decimal
    resamples: int
    seed: int


def bootstrap_effect(
    subjects: Sequence[Subject],
    baseline: Mapping[str, Decimal],
    resamples: int = 2000,
    seed: int = 2022,
    level: Decimal = Decimal("0.95"),
) -> Interval | None:
    """Percentile bootstrap of the effect: citizens drawn with replacement (each draw reweights the
    baseline by its own track mix). Seeded, so the same cohort gives the same interval."""
    if len(subjects) < 2:
        return None
    rng = random.Random(seed)
    # Each citizen's own difference from their track's baseline: the effect of a draw is its mean.
    # Sorted, so the interval depends on the cohort's figures only, not on the order of its ids.
    differences = sorted(s.weeks - baseline.get(s.track, Decimal("0")) for s in subjects)
    n = len(differences)
    estimates = sorted(sum(rng.choices(differences, k=n), Decimal("0")) / n for _ in range(resamples))
    tail = (1 - level) / 2
    low_index = int((tail * resamples).to_integral_value(rounding=ROUND_HALF_UP))
    high_index = min(
        resamples - 1, int(((1 - tail) * resamples).to_integral_value(rounding=ROUND_HALF_UP)) - 1
    )
    return Interval(q(estimates[low_index]), q(estimates[high_index]), resamples, seed)


def window_month_shares(
    counts: Sequence[WeekCount], months: int = 24, min_citizens: int = 1
) -> list[Decimal | None]:
    """For month 1..24 of the window (104 weeks cut into 24 runs of 4-5 weeks): the share of the
    observed citizen-weeks that were self-supporting; None where nothing is observed yet, or where
    fewer than ``min_citizens`` citizens have an observed week (the small-cell rule)."""
    shares: list[Decimal | None] = []
    for m in range(months):
        first, last = (m * WINDOW_WEEKS) // months, ((m + 1) * WINDOW_WEEKS) // months
        observed = [[w for w in c.weeks[first:last] if w is not None] for c in counts]
        seen = [w for weeks in observed for w in weeks]
        if sum(1 for weeks in observed if weeks) < min_citizens:
            seen = []
        shares.append(q(Decimal(sum(1 for w in seen if w)) / len(seen) * 100) / 100 if seen else None)
    return shares


METHOD = (
    "Self-supporting weeks in the 104 weeks from enrolment (7-day blocks; a week counts when all "
    "7 days are self-supporting), intention to treat. Open windows are projected: observed weeks "
    "plus the remaining weeks at the citizen's self-supporting share of their last 13 observed "
    "weeks (the track's baseline share before any week is observed). Effect = cohort mean minus "
    "the control baseline weighted by the cohort's track mix; 95 % percentile bootstrap over "
    "citizens."
)


@dataclass(frozen=True)
class TrackOutcome:
    track: str
    participants: int
    windows_complete: int
    mean_weeks_complete_windows: Decimal | None
    mean_weeks_projected: Decimal | None
    control_baseline_weeks: Decimal | None
    mean_weeks_complete_windows_suppressed: bool = False  # set by the small-cell rule (disclosure.py)
    mean_weeks_projected_suppressed: bool = False


@dataclass(frozen=True)
class CitizenOutcome:
    participant_id: str
    track: str
    enrolled_on: date | None
    withdrawn_on: date | None
    weeks_observed: int
    self_supporting_weeks: int
    window_complete: bool
    projected_self_supporting_weeks: Decimal | None  # None once the window is complete


@dataclass(frozen=True)
class OutcomeReport:
    """The outcome report of a cohort; the overall figures are None when the small-cell rule withholds
    them (``suppressed``)."""

    programme_id: str
    data_complete_through: date | None
    computed_at: datetime
    participants: int
    windows_complete: int
    windows_open: int
    is_projection: bool
    tracks: list[TrackOutcome]
    mean_weeks: Decimal | None
    control_baseline_weeks: Decimal | None
    effect_weeks: Decimal | None
    effect_ci95: Interval | None
    target_uplift_weeks: Decimal
    target_met: bool | None
    target_met_at_95: bool | None
    suppressed: bool = False
    items: list[CitizenOutcome] | None = None  # person-level rows; None for a reader who may not see people
