"""A participant's fee-eligible months from everything settlement holds about them: the enrolment and
withdrawal, the terms versions, the status records and the data cut-off. Pure, so the same stored state
always gives the same months, whatever order the events arrived in."""

from __future__ import annotations

import bisect
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from functools import lru_cache, partial
from operator import itemgetter
from typing import NamedTuple

from libs.common.contracts import STATUS_CODES, MonthRule, StatusCategory, StatusCode
from libs.rules.timeline import DayCategory, Period, StatusRecord
from services.settlement.domain.months import (
    Month,
    MonthFee,
    Window,
    fee_of,
    follow_up_window,
    month_bounds,
    month_index,
)
from services.settlement.domain.terms import TermsVersion, terms_in_force


@dataclass(frozen=True)
class Enrolment:
    track: str
    enrolled_on: date
    withdrawn_on: date | None


@dataclass(frozen=True)
class ComputedMonth:
    fee: MonthFee
    terms_version: int
    cutoff_used: date | None


def categories_under(version: TermsVersion) -> dict[StatusCode, StatusCategory]:
    overrides = version.terms.status_categories
    return {code: overrides.get(code, default) for code, (_, default) in STATUS_CODES.items()}


def day_lookup(periods: list[Period]) -> Callable[[date], DayCategory]:
    starts = [p.start for p in periods]

    def category_of(day: date) -> DayCategory:
        index = bisect.bisect_right(starts, day) - 1
        return periods[index].category if index >= 0 else DayCategory.unknown

    return category_of


def window_for(enrolment: Enrolment, versions: list[TermsVersion]) -> tuple[Window, TermsVersion] | None:
    """The follow-up window under the terms in force on the enrolment date (the first version when the
    enrolment predates them all); None without terms."""
    if not versions:
        return None
    at_enrolment = (
        versions[0]  # the only version: in force on the enrolment date or, before it, the first
        if len(versions) == 1
        else terms_in_force(versions, enrolment.enrolled_on) or min(versions, key=lambda v: v.version)
    )
    window = follow_up_window(
        enrolment.enrolled_on, at_enrolment.terms.follow_up_months, enrolment.withdrawn_on
    )
    return window, at_enrolment


class Validity(NamedTuple):
    """The days a status record (or a change) covers: from ``valid_from`` through ``valid_to``, open-ended
    when ``valid_to`` is None."""

    valid_from: date
    valid_to: date | None


class RecordedStatus(NamedTuple):
    """What the months need of a status record: its code, validity and place in the recording order."""

    code: str
    valid_from: date
    valid_to: date | None
    recording_seq: int


# A RecordedStatus as a plain tuple (as the repository reads it, without a NamedTuple per record).
RecordedStatusTuple = tuple[str, date, date | None, int]


class MonthFigures(NamedTuple):
    """One computed month, as plain values (what ``participant_months`` stores)."""

    month: str  # YYYY-MM
    in_window_days: int
    self_supporting_days: int
    public_support_days: int
    unknown_days: int
    provisional: bool
    fee_dkk: Decimal
    rule: MonthRule
    fee_per_month_dkk: Decimal
    terms_version: int


# Hot loops (a month each) use these C-level helpers rather than a Python-level call per month; see
# docs/performance.md#named-state-issue-26-2026-12-06.
# A MonthFigures from its fields in order, without the NamedTuple's Python-level __new__.
_new_month_figures: Callable[[tuple[object, ...]], MonthFigures] = partial(tuple.__new__, MonthFigures)
# A MonthFigures' values but the month: participant_months' computed columns but cutoff_used, in order.
stored_values_of: Callable[[MonthFigures], tuple[object, ...]] = itemgetter(slice(1, None))


# Each day of the window holds one byte: the code of the record that decides it, or no record.
_CODE_BYTE = {code.value: index for index, code in enumerate(STATUS_CODES)}
_NO_RECORD_KNOWN, _NO_RECORD_UNKNOWN = 254, 255
# After translation under a terms version: the day's category.
_SELF, _PUBLIC, _UNKNOWN = 0, 1, 2


_TABLES: dict[int, tuple[TermsVersion, bytes]] = {}


def _category_table(version: TermsVersion) -> bytes:
    """Code byte -> category byte under the version's categories (memoised per version object: the
    service reads a programme's versions once per transaction and computes many participants)."""
    cached = _TABLES.get(id(version))
    if cached is not None and cached[0] is version:
        return cached[1]
    if len(_TABLES) > 256:
        _TABLES.clear()
    table = _make_category_table(version)
    _TABLES[id(version)] = (version, table)
    return table


def _make_category_table(version: TermsVersion) -> bytes:
    table = bytearray(256)
    for code, category in categories_under(version).items():
        table[_CODE_BYTE[code.value]] = _SELF if category is StatusCategory.self_supporting else _PUBLIC
    table[_NO_RECORD_KNOWN], table[_NO_RECORD_UNKNOWN] = _SELF, _UNKNOWN
    return bytes(table)


def _paint(window: Window, records: Sequence[RecordedStatusTuple], cutoff: date | None) -> bytearray:
    """The window's days, each holding the code of the record recorded last that covers it (ties in
    ``recording_seq``: the earliest ``valid_from``, then the earliest given, as ``resolve`` decides),
    or no record: self-supporting on or before the cut-off, unknown after it.

    Records are painted over each other in recording order, so the last painted wins: the same
    decision as ``libs.rules.timeline.resolve``, one slice assignment per record instead of a sweep."""
    first = window.start.toordinal()
    size = window.end.toordinal() - first + 1
    known = 0 if cutoff is None else min(max(cutoff.toordinal() - first + 1, 0), size)
    days = bytearray((_NO_RECORD_KNOWN,)) * known + bytearray((_NO_RECORD_UNKNOWN,)) * (size - known)
    seqs = [r[3] for r in records]
    if len(set(seqs)) == len(seqs):
        order = sorted(range(len(records)), key=seqs.__getitem__)
    else:  # a tie: the record resolve's sweep meets first (earliest valid_from, stable) wins
        rank = {i: n for n, i in enumerate(sorted(range(len(records)), key=lambda i: records[i][1]))}
        order = sorted(range(len(records)), key=lambda i: (seqs[i], -rank[i]))
    code_byte = _CODE_BYTE
    for i in order:
        code, valid_from, valid_to, _ = records[i]
        low = max(valid_from.toordinal() - first, 0)
        high = size if valid_to is None else min(valid_to.toordinal() - first + 1, size)
        if low < high:
            days[low:high] = bytes((code_byte[code],)) * (high - low)
    return days


@lru_cache(maxsize=8192)
def _window_months(start: date, end: date) -> tuple[tuple[int, str, int, int, int, date], ...]:
    """Per month of a (non-empty) window: its index, ``YYYY-MM``, its in-window days as offsets into the
    window (from, to exclusive), its number of days and its first in-window day. Windows repeat (one
    per enrolment date and length), so this is worked out once per window."""
    first, last = start.toordinal(), end.toordinal()
    months = []
    for index in range(month_index(start), month_index(end) + 1):
        key, month_first, month_days = month_bounds(index)
        low, high = max(month_first, first), min(month_first + month_days - 1, last)
        months.append((index, key, low - first, high - first + 1, month_days, date.fromordinal(low)))
    return tuple(months)


def month_figures(
    enrolment: Enrolment,
    versions: list[TermsVersion],
    records: Sequence[RecordedStatusTuple],
    cutoff: date | None,
    only: Collection[int] | None = None,
) -> list[MonthFigures]:
    """Every month of the window (or those whose index is in ``only``), each under the terms in force
    on its first in-window day.

    With ``only``, ``records`` may leave out records that cover no day of those months: the figures of
    a month depend only on the records covering its days."""
    found = window_for(enrolment, versions)
    if found is None:
        return []
    window, at_enrolment = found
    if window.is_empty:
        return []
    days = _paint(window, records, cutoff)
    by_version: dict[int, bytes] = {}
    fees: dict[int, tuple[Decimal, MonthRule]] = {}
    single = versions[0] if len(versions) == 1 else None
    figures = []
    for index, key, low, high, month_days, first_day in _window_months(window.start, window.end):
        if only is not None and index not in only:
            continue
        version = single or terms_in_force(versions, first_day) or at_enrolment
        categories = by_version.get(version.version)
        if categories is None:
            categories = by_version[version.version] = bytes(days.translate(_category_table(version)))
            fees[version.version] = (version.terms.fee_for_track(enrolment.track), version.terms.month_rule)
        fee_per_month, rule = fees[version.version]
        in_window = high - low
        self_supporting = categories.count(_SELF, low, high)
        unknown = categories.count(_UNKNOWN, low, high)
        figures.append(
            _new_month_figures(
                (
                    key,
                    in_window,
                    self_supporting,
                    in_window - self_supporting - unknown,
                    unknown,
                    unknown > 0,
                    fee_of(fee_per_month, rule, in_window, self_supporting, unknown, month_days),
                    rule,
                    fee_per_month,
                    version.version,
                )
            )
        )
    return figures


def compute_months(
    enrolment: Enrolment,
    versions: list[TermsVersion],
    records: list[StatusRecord],
    cutoff: date | None,
    only: set[Month] | None = None,
) -> list[ComputedMonth]:
    """Every month of the window (or just ``only``), each under the terms in force on its first
    in-window day."""
    spans = [RecordedStatus(r.code.value, r.valid_from, r.valid_to, r.recording_seq) for r in records]
    indexes = None if only is None else {month.index for month in only}
    return [
        ComputedMonth(
            MonthFee(
                month=Month.parse(f.month),
                in_window_days=f.in_window_days,
                self_supporting_days=f.self_supporting_days,
                public_support_days=f.public_support_days,
                unknown_days=f.unknown_days,
                fee_dkk=f.fee_dkk,
                rule=f.rule,
                fee_per_month_dkk=f.fee_per_month_dkk,
            ),
            f.terms_version,
            cutoff,
        )
        for f in month_figures(enrolment, versions, spans, cutoff, indexes)
    ]


def touched_indexes(valid_from: date, valid_to: date | None, window: Window) -> range:
    """The indexes of the months of the window a validity reaches (an open end reaches the window's
    end); empty when it misses the window."""
    start, end = max(valid_from, window.start), min(valid_to or window.end, window.end)
    return range(month_index(start), month_index(end) + 1) if start <= end else range(0)
