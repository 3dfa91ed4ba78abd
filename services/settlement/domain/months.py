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
        return Month.of(self.first_day + relativedelta(months=months))


def months_of(window: Window) -> Iterator[Month]:
    if window.is_empty:
        return
    month = Month.of(window.start)
    while month.first_day <= window.end:
        yield month
        month = month.plus(1)


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
    if counts[DayCategory.unknown]:
        # Provisional: what the known days have earned so far under the rule, never invoiced.
        earning_days = 0 if rule is MonthRule.full_month else self_supporting
    elif rule is MonthRule.full_month:
        earning_days = in_window if self_supporting == in_window else 0
    else:
        earning_days = self_supporting
    fee = round_ore(fee_per_month_dkk * earning_days / month.days)
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
