"""A participant's fee-eligible months from everything settlement holds about them: the enrolment and
withdrawal, the terms versions, the status records and the data cut-off. Pure, so the same stored state
always gives the same months, whatever order the events arrived in."""

from __future__ import annotations

import bisect
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date

from libs.common.contracts import STATUS_CODES, StatusCategory, StatusCode
from libs.rules.timeline import DayCategory, Period, StatusRecord, resolve
from services.settlement.domain.months import Month, MonthFee, Window, follow_up_window, month_fee, months_of
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
    at_enrolment = terms_in_force(versions, enrolment.enrolled_on) or min(versions, key=lambda v: v.version)
    window = follow_up_window(
        enrolment.enrolled_on, at_enrolment.terms.follow_up_months, enrolment.withdrawn_on
    )
    return window, at_enrolment


def compute_months(
    enrolment: Enrolment,
    versions: list[TermsVersion],
    records: list[StatusRecord],
    cutoff: date | None,
    only: set[Month] | None = None,
) -> list[ComputedMonth]:
    """Every month of the window (or just ``only``), each under the terms in force on its first
    in-window day."""
    found = window_for(enrolment, versions)
    if found is None:
        return []
    window, at_enrolment = found
    lookups: dict[int, Callable[[date], DayCategory]] = {}
    computed = []
    for month in months_of(window):
        if only is not None and month not in only:
            continue
        first_day = max(month.first_day, window.start)
        version = terms_in_force(versions, first_day) or at_enrolment
        if version.version not in lookups:
            lookups[version.version] = day_lookup(
                resolve(records, categories_under(version), cutoff, window.start)
            )
        fee = month_fee(
            month,
            window,
            lookups[version.version],
            version.terms.fee_for_track(enrolment.track),
            version.terms.month_rule,
        )
        computed.append(ComputedMonth(fee, version.version, cutoff))
    return computed


def months_touched(valid_from: date, valid_to: date | None, window: Window) -> set[Month]:
    """The months of the window a record's validity reaches (an open end reaches the window's end)."""
    start, end = max(valid_from, window.start), min(valid_to or window.end, window.end)
    return set(months_of(Window(start, end))) if start <= end else set()
