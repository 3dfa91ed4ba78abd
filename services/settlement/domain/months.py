"""Fee-eligible months (DOMAIN.md "Fee-eligible months").

A citizen's window starts on the enrolment date and lasts ``follow_up_months`` calendar months
(dateutil's relativedelta clamps to a shorter month's last day); a withdrawal ends it the day before it
takes effect. Each calendar month looks only at its days inside the window:

- ``full_month``: the month earns ``fee x in-window days / days in month`` when every in-window day is
  known and self-supporting;
- ``pro_rata_days``: once every in-window day is known, ``fee x self-supporting days / days in month``;
- a month with any unknown in-window day is provisional: shown, never invoiced;
- amounts are DKK with øre, rounded half-up once per (citizen, month).
"""

from __future__ import annotations

import calendar
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import ROUND_HALF_UP, Decimal
from functools import lru_cache

from dateutil.relativedelta import relativedelta

from libs.common.contracts import MonthRule
from libs.rules.timeline import DayCategory

ONE_DAY = timedelta(days=1)
ORE = Decimal("0.01")


@dataclass(frozen=True)
class Window:
    start: date
    end: date  # inclusive; before start when the window is empty

    @property
    def is_empty(self) -> bool:
        return self.end < self.start

    def contains(self, day: date) -> bool:
        return self.start <= day <= self.end


@lru_cache(maxsize=65536)
def follow_up_window(enrolled_on: date, follow_up_months: int, withdrawn_on: date | None = None) -> Window:
    end = enrolled_on + relativedelta(months=follow_up_months) - ONE_DAY
    if withdrawn_on is not None:
        end = min(end, withdrawn_on - ONE_DAY)
    return Window(enrolled_on, end)


@dataclass(frozen=True, order=True)
class Month:
    year: int
    month: int

    @property
    def first_day(self) -> date:
        return date(self.year, self.month, 1)

    @property
    def last_day(self) -> date:
        return date(self.year, self.month, calendar.monthrange(self.year, self.month)[1])

    @property
    def days(self) -> int:
        return calendar.monthrange(self.year, self.month)[1]

    def __str__(self) -> str:
        return f"{self.year:04d}-{self.month:02d}"

    @classmethod
    def parse(cls, text: str) -> Month:
        year, month = text.split("-")
        return cls(int(year), int(month))

    @classmethod
    def of(cls, day: date) -> Month:
        return cls(day.year, day.month)

    def plus(self, months: int) -> Month:
        return Month.from_index(self.index + months)

    @property
    def index(self) -> int:
        """Months since year 0: consecutive months have consecutive indexes."""
        return self.year * 12 + self.month - 1

    @classmethod
    def from_index(cls, index: int) -> Month:
        year, month0 = divmod(index, 12)
        return cls(year, month0 + 1)


def month_index(day: date) -> int:
    return day.year * 12 + day.month - 1


@lru_cache(maxsize=4096)
def month_bounds(index: int) -> tuple[str, int, int]:
    """A month (by index) as its ``YYYY-MM`` key, the ordinal of its first day and its number of days."""
    year, month0 = divmod(index, 12)
    return (
        f"{year:04d}-{month0 + 1:02d}",
        date(year, month0 + 1, 1).toordinal(),
        calendar.monthrange(year, month0 + 1)[1],
    )


def months_of(window: Window) -> Iterator[Month]:
    if window.is_empty:
        return
    for index in range(month_index(window.start), month_index(window.end) + 1):
        yield Month.from_index(index)


@dataclass(frozen=True)
class MonthFee:
    month: Month
    in_window_days: int
    self_supporting_days: int
    public_support_days: int
    unknown_days: int
    fee_dkk: Decimal
    rule: MonthRule
    fee_per_month_dkk: Decimal

    @property
    def provisional(self) -> bool:
        return self.unknown_days > 0


def round_ore(amount: Decimal) -> Decimal:
    return amount.quantize(ORE, rounding=ROUND_HALF_UP)


def month_fee(
    month: Month,
    window: Window,
    category_of: Callable[[date], DayCategory],
    fee_per_month_dkk: Decimal,
    rule: MonthRule,
) -> MonthFee:
    counts = dict.fromkeys(DayCategory, 0)
    day = max(month.first_day, window.start)
    last = min(month.last_day, window.end)
    while day <= last:
        counts[category_of(day)] += 1
        day += ONE_DAY
    in_window = sum(counts.values())
    self_supporting = counts[DayCategory.self_supporting]
    fee = fee_of(fee_per_month_dkk, rule, in_window, self_supporting, counts[DayCategory.unknown], month.days)
    return MonthFee(
        month=month,
        in_window_days=in_window,
        self_supporting_days=self_supporting,
        public_support_days=counts[DayCategory.public_support],
        unknown_days=counts[DayCategory.unknown],
        fee_dkk=fee,
        rule=rule,
        fee_per_month_dkk=fee_per_month_dkk,
    )


def fee_of(
    fee_per_month_dkk: Decimal,
    rule: MonthRule,
    in_window: int,
    self_supporting: int,
    unknown: int,
    days_in_month: int,
) -> Decimal:
    """A month's fee from its day counts under the rule."""
    if unknown:
        # Provisional: what the known days have earned so far under the rule, never invoiced.
        earning_days = 0 if rule is MonthRule.full_month else self_supporting
    elif rule is MonthRule.full_month:
        earning_days = in_window if self_supporting == in_window else 0
    else:
        earning_days = self_supporting
    return share_of(fee_per_month_dkk, earning_days, days_in_month)


@lru_cache(maxsize=16384)
def share_of(fee_per_month_dkk: Decimal, earning_days: int, days_in_month: int) -> Decimal:
    """``fee x earning days / days in month``, rounded half-up to øre (few distinct inputs: cached)."""
    return round_ore(fee_per_month_dkk * earning_days / days_in_month)
