"""The status timeline (DOMAIN.md "The status timeline"), bitemporal and pure.

Each record says a citizen had a status from ``valid_from`` to ``valid_to`` (inclusive; open-ended when
None), and was recorded at a point in the recording order. For any day the record recorded last that
covers the day wins. A day no record covers is self-supporting on or before the data cut-off (no benefit
recorded means no benefit paid) and unknown after it. Reading ``as of`` a moment uses only the records
and the cut-off known then.
"""

from __future__ import annotations

import heapq
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from enum import StrEnum

from libs.common.contracts import StatusCategory, StatusCode
from libs.common.dates import day_after

ONE_DAY = timedelta(days=1)


class DayCategory(StrEnum):
    public_support = "public_support"
    self_supporting = "self_supporting"
    unknown = "unknown"


@dataclass(frozen=True)
class StatusRecord:
    record_id: str
    code: StatusCode
    valid_from: date
    valid_to: date | None
    recording_seq: int
    recorded_at: datetime

    def covers(self, day: date) -> bool:
        return self.valid_from <= day and (self.valid_to is None or day <= self.valid_to)


@dataclass(frozen=True)
class Period:
    """A run of days decided the same way. ``code`` and ``record_id`` are None for days no record
    covers; ``to`` is None when the period is open-ended."""

    start: date
    end: date | None
    category: DayCategory
    code: StatusCode | None
    record_id: str | None


def known_as_of(records: list[StatusRecord], as_of: datetime | None) -> list[StatusRecord]:
    return [r for r in records if as_of is None or r.recorded_at <= as_of]


def resolve(
    records: list[StatusRecord],
    categories: dict[StatusCode, StatusCategory],
    cutoff: date | None,
    start: date,
) -> list[Period]:
    """Non-overlapping periods from ``start`` on, covering every later day; the last one is open-ended."""
    # Every day between two consecutive boundaries is decided the same way.
    boundaries = {start}
    for record in records:
        for point in (record.valid_from, day_after(record.valid_to) if record.valid_to else None):
            if point is not None and point > start:
                boundaries.add(point)
    after_cutoff = day_after(cutoff) if cutoff is not None else None
    if after_cutoff is not None and after_cutoff > start:
        boundaries.add(after_cutoff)
    points = sorted(boundaries)
    # A sweep over the boundaries: records enter a heap (highest recording_seq on top) when they start;
    # a record on top that no longer covers the day has ended for good and leaves. O((P + R) log R)
    # rather than testing every record at every boundary.
    by_start = sorted(records, key=lambda r: r.valid_from)
    active: list[tuple[int, int, StatusRecord]] = []
    entered = 0

    periods: list[Period] = []
    for index, first_day in enumerate(points):
        last_day = points[index + 1] - ONE_DAY if index + 1 < len(points) else None
        while entered < len(by_start) and by_start[entered].valid_from <= first_day:
            heapq.heappush(active, (-by_start[entered].recording_seq, entered, by_start[entered]))
            entered += 1
        while active and not active[0][2].covers(first_day):
            heapq.heappop(active)
        winner = active[0][2] if active else None
        if winner is not None:
            category = DayCategory(categories[winner.code].value)
            period = Period(first_day, last_day, category, winner.code, winner.record_id)
        else:
            known = cutoff is not None and first_day <= cutoff
            category = DayCategory.self_supporting if known else DayCategory.unknown
            period = Period(first_day, last_day, category, None, None)
        previous = periods[-1] if periods else None
        if previous is not None and (previous.category, previous.code, previous.record_id) == (
            period.category,
            period.code,
            period.record_id,
        ):
            periods[-1] = Period(previous.start, period.end, period.category, period.code, period.record_id)
        else:
            periods.append(period)
    return periods


def day_category(periods: list[Period], day: date) -> DayCategory:
    """The category of one day in a resolved timeline (days before its start are unknown)."""
    for period in periods:
        if period.start <= day and (period.end is None or day <= period.end):
            return period.category
    return DayCategory.unknown


def iso_week_range(iso_week: str) -> tuple[date, date]:
    """``2024-W07`` -> (Monday, Sunday) of that ISO week."""
    year_text, week_text = iso_week.split("-W")
    return (
        date.fromisocalendar(int(year_text), int(week_text), 1),
        date.fromisocalendar(int(year_text), int(week_text), 7),
    )


@dataclass(frozen=True)
class Cutoff:
    """A move of the data cut-off: an advance, or a retraction of a mistaken move to an earlier date."""

    complete_through: date
    recorded_at: datetime


def cutoff_as_of(history: list[Cutoff], as_of: datetime | None) -> date | None:
    """The data cut-off in force at a moment: the last move recorded by then (``history`` is in
    recording order). Advances only move it forward; a retraction takes it back, and a read as of a
    moment before the retraction still sees the mistaken move."""
    known = [c.complete_through for c in history if as_of is None or c.recorded_at <= as_of]
    return known[-1] if known else None
