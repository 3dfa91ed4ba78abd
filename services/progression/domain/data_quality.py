"""Data quality (docs/domain.md "Data quality"), pure: when a status record is late, when a provider's
milestone and the jobcenter's timeline disagree, and how far the data cut-off lags behind the calendar.
No database, no clock: the caller passes the day it asks about.

Neither party is paid or refused because of anything here; these are findings for both to look at.
"""

from __future__ import annotations

import calendar
from collections.abc import Iterable, Mapping, Sequence
from collections.abc import Set as AbstractSet
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import ROUND_HALF_UP, Decimal
from enum import StrEnum
from itertools import pairwise

from libs.common.contracts import MilestoneKind
from libs.rules.disclosure import MIN_CITIZENS as MIN_CITIZENS
from libs.rules.disclosure import suppressed_groups as suppressed_groups
from libs.rules.disclosure import suppressed_overlapping as suppressed_overlapping
from libs.rules.timeline import DayCategory, Period

# The milestones that say a citizen left public support (or is about to).
EXIT_MILESTONES = frozenset(
    {MilestoneKind.job_start, MilestoneKind.education_start, MilestoneKind.fit_for_work}
)
# The feed of records posted before their poster was kept (status_records.recorded_by null).
FEED_UNKNOWN = "unknown"
# The same rule as settlement's aggregates for readers who may not see people (docs/security.md).
SHARE_PLACES = Decimal("0.0001")
DAYS_PLACES = Decimal("0.1")


def month_end(day: date) -> date:
    return day.replace(day=calendar.monthrange(day.year, day.month)[1])


def period_end(valid_from: date, valid_to: date | None) -> date:
    """The day a record's period ends; an open-ended record's period is taken to end on its first day
    (it reports a change, which is due by the end of the month it happened in)."""
    return valid_to if valid_to is not None else valid_from


def days_late(valid_from: date, valid_to: date | None, posted_on: date) -> int:
    """How many days after the end of the month its period ends in a record was posted; 0 when it was
    posted on or before that day (not late)."""
    return max(0, (posted_on - month_end(period_end(valid_from, valid_to))).days)


class DiscrepancyKind(StrEnum):
    # The provider reported an exit, and the timeline still shows public support the window later.
    milestone_still_supported = "milestone_still_supported"
    # The timeline turned self-supporting, and the provider reported no exit within the window of it.
    exit_without_milestone = "exit_without_milestone"


@dataclass(frozen=True, slots=True)
class Milestone:
    milestone_id: str
    kind: MilestoneKind
    on: date


@dataclass(frozen=True, slots=True)
class Discrepancy:
    """One finding for one citizen. ``milestone_*`` are None for an exit without a milestone,
    ``turned_on`` (the first self-supporting day) None for a milestone the timeline does not show.
    ``record_id`` is the jobcenter's record the finding rests on (its feed is the finding's feed): the
    one deciding the checked day, or for a turn the one starting the self-supporting days, else the
    one whose end began them."""

    participant_id: str
    kind: DiscrepancyKind
    milestone_id: str | None
    milestone_kind: str | None
    milestone_on: date | None
    turned_on: date | None
    checked_on: date
    record_id: str | None


def period_at(periods: Sequence[Period], day: date) -> Period | None:
    for period in periods:
        if period.start <= day and (period.end is None or day <= period.end):
            return period
    return None


def discrepancies(
    participant_id: str,
    periods: Sequence[Period],
    milestones: Iterable[Milestone],
    window: timedelta,
    today: date,
) -> list[Discrepancy]:
    """The discrepancies of one citizen's resolved timeline and milestones, as seen on ``today``.

    An exit milestone on day D is a discrepancy when D + window is on or before today and the timeline
    shows public support on that day (an unknown day, after the cut-off, is not yet a finding). The
    other way round: the timeline turns from public support to self-supporting on day T, T + window is
    on or before today, and no exit milestone lies within the window either side of T."""
    exits = sorted((m for m in milestones if m.kind in EXIT_MILESTONES), key=lambda m: (m.on, m.milestone_id))
    found: list[Discrepancy] = []
    for milestone in exits:
        checked = milestone.on + window
        deciding = period_at(periods, checked)
        if checked <= today and deciding is not None and deciding.category is DayCategory.public_support:
            found.append(
                Discrepancy(
                    participant_id,
                    DiscrepancyKind.milestone_still_supported,
                    milestone.milestone_id,
                    milestone.kind.value,
                    milestone.on,
                    None,
                    checked,
                    deciding.record_id,
                )
            )
    for before, after in pairwise(periods):
        if (
            before.category is not DayCategory.public_support
            or after.category is not DayCategory.self_supporting
        ):
            continue
        turned, checked = after.start, after.start + window
        if checked > today or any(abs((m.on - turned).days) <= window.days for m in exits):
            continue
        found.append(
            Discrepancy(
                participant_id,
                DiscrepancyKind.exit_without_milestone,
                None,
                None,
                None,
                turned,
                checked,
                after.record_id or before.record_id,
            )
        )
    return found


@dataclass(frozen=True, slots=True)
class Lateness:
    """Records posted and how late: ``late`` of ``records`` were posted after their period's month had
    ended, ``days_late_total`` and ``days_late_max`` their delays in days."""

    records: int = 0
    late: int = 0
    days_late_total: int = 0
    days_late_max: int = 0

    def add(self, days: int) -> Lateness:
        return Lateness(
            self.records + 1,
            self.late + (days > 0),
            self.days_late_total + days,
            max(self.days_late_max, days),
        )

    @property
    def share_late(self) -> Decimal | None:
        if not self.records:
            return None
        return (Decimal(self.late) / Decimal(self.records)).quantize(SHARE_PLACES, ROUND_HALF_UP)

    @property
    def mean_days_late(self) -> Decimal | None:
        """The mean delay of the late records (None when none is late)."""
        if not self.late:
            return None
        return (Decimal(self.days_late_total) / Decimal(self.late)).quantize(DAYS_PLACES, ROUND_HALF_UP)


@dataclass(frozen=True, slots=True)
class CutoffMove:
    complete_through: date
    recorded_on: date


@dataclass(frozen=True, slots=True)
class MonthLag:
    """A calendar month, the day the cut-off in force came to cover it, and the days since its end."""

    month: str
    covered_on: date
    lag_days: int


def _months(first: date, last: date) -> list[date]:
    """The last day of each month from ``first``'s to ``last``'s."""
    ends, day = [], month_end(first)
    while day <= last:
        ends.append(day)
        day = month_end(day + timedelta(days=1))
    return ends


def cutoff_lags(moves: Sequence[CutoffMove]) -> list[MonthLag]:
    """For each month the cut-off now covers, from the first month a cut-off covered whole, the day the
    cut-off came to cover it for good (a month a retraction uncovered is covered by the later move
    that covers it again) and the days from the month's end to that day."""
    if not moves:
        return []
    first = moves[0].complete_through
    first_whole = first if first == month_end(first) else first.replace(day=1) - timedelta(days=1)
    current = moves[-1].complete_through
    lags = []
    for end in _months(first_whole, current):
        covered_on: date | None = None
        for move in moves:
            if move.complete_through < end:
                covered_on = None
            elif covered_on is None:
                covered_on = move.recorded_on
        assert covered_on is not None  # the last move covers every month up to it
        lags.append(MonthLag(f"{end.year:04d}-{end.month:02d}", covered_on, (covered_on - end).days))
    return lags


def small_counts(counts: Mapping[str, int], minimum: int = MIN_CITIZENS) -> dict[str, int | None]:
    """Counts of citizens in disjoint groups, shown beside their total, as a reader who may not see
    people gets them: a group of 1 to ``minimum`` - 1 is withheld (None), and while the withheld
    groups together hold 1 to ``minimum`` - 1 citizens the smallest shown group is withheld too, so
    none is the total minus those shown (``libs/rules/disclosure.py``)."""
    hidden = suppressed_groups(counts, minimum)
    return {name: None if name in hidden else count for name, count in counts.items()}


def feed_of(recorded_by: str | None) -> str:
    """A record's jobcenter feed: the subject of the token that posted it."""
    return recorded_by if recorded_by is not None else FEED_UNKNOWN


def small_feed_counts(citizens: Mapping[str, AbstractSet[str]]) -> dict[str, int | None]:
    """Citizens per feed as a reader who may not see people gets them: a citizen may be in more than
    one feed, so the rule is applied to the feeds' citizens themselves (``suppressed_overlapping``)."""
    hidden = suppressed_overlapping(citizens)
    return {feed: None if feed in hidden else len(members) for feed, members in citizens.items()}
