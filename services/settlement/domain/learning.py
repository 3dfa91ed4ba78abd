"""The learning track and the provider's progression summary (issue 7): pure rules, no framework.

Learning track (DOMAIN.md "The parties and the deal"): the municipality's total spending on sickness
benefit and job clarification per year should come back to at most 80 % of its Covid-period level
(the mean of 2020 and 2021). Amounts are DKK as Decimals.

Progression summary: the provider's measurements (three groups of four indicators, each 1-10) as
aggregates per period and group. A cell computed from fewer than ``MIN_PARTICIPANTS`` participants is
suppressed so that no individual can be singled out.
"""

from __future__ import annotations

import statistics
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date
from decimal import ROUND_HALF_UP, Decimal
from typing import Literal

from libs.common.contracts.progression import INDICATOR_GROUPS
from services.settlement.domain.disclosure import MIN_CITIZENS

ORE = Decimal("0.01")
TENTH = Decimal("0.1")
RATIO_PLACES = Decimal("0.0001")
MILLION = Decimal(1_000_000)

MAX_SPENDING_DKK = Decimal(100_000_000_000)  # exclusive
PLAUSIBLE_FACTOR = Decimal(3)
COVID_YEARS = (2020, 2021)
TARGET_SHARE = Decimal("0.80")
MIN_PARTICIPANTS = MIN_CITIZENS  # the small-cell rule of every aggregate (domain/disclosure.py)

PeriodKind = Literal["quarter", "month"]


# --- learning track -------------------------------------------------------------------------------


def median(values: Iterable[Decimal]) -> Decimal:
    ordered = sorted(values)
    if not ordered:
        raise ValueError("median of nothing")
    return Decimal(statistics.median(ordered))


def mdkk(amount: Decimal) -> str:
    """DKK as millions with one decimal: 125300000 -> '125.3'."""
    return str((amount / MILLION).quantize(TENTH, rounding=ROUND_HALF_UP))


def plausibility_problem(amount: Decimal, other_years: Mapping[int, Decimal]) -> str | None:
    """Why a year's spending cannot be right, or None. Refused: not more than 0; not less than 100
    billion DKK; more than 3 times or less than a third of the median of the programme's other years
    (a misplaced decimal separator or a figure in thousands or millions of DKK)."""
    if not amount.is_finite() or amount <= 0:
        return "must be an amount in DKK greater than 0"
    if amount >= MAX_SPENDING_DKK:
        return "must be less than 100,000,000,000 DKK (amounts are in DKK, not in thousands or millions)"
    if not other_years:
        return None
    middle = median(other_years.values())
    years = ", ".join(str(y) for y in sorted(other_years))
    hint = (
        "amounts are in DKK with a decimal point (125.3 MDKK is 125300000.00): check for a misplaced "
        "decimal separator or a figure given in thousands or millions of DKK"
    )
    if amount > middle * PLAUSIBLE_FACTOR:
        factor = (amount / middle).quantize(TENTH, rounding=ROUND_HALF_UP)
        return (
            f"is {factor} times the median of the other years stored ({years}: median {mdkk(middle)} "
            f"MDKK), more than 3 times; {hint}"
        )
    if amount * PLAUSIBLE_FACTOR < middle:
        share = (amount / middle * 100).quantize(Decimal("0.0001"), rounding=ROUND_HALF_UP)
        return (
            f"is {share} % of the median of the other years stored ({years}: median {mdkk(middle)} "
            f"MDKK), less than a third; {hint}"
        )
    return None


@dataclass(frozen=True)
class YearPoint:
    year: int
    spending_dkk: Decimal
    index: Decimal  # first year = 100, one decimal


@dataclass(frozen=True)
class Kpi:
    latest_year: int
    latest_spending_dkk: Decimal
    ratio_to_covid_level: Decimal  # four decimals
    target_met: bool  # latest <= 80 % of the Covid level
    gap_dkk: Decimal  # latest minus the target: above 0, still that much to cut; at or below 0, met


@dataclass(frozen=True)
class LearningTrack:
    years: list[YearPoint]
    covid_level_dkk: Decimal | None  # mean of 2020 and 2021; None until both are stored
    target_dkk: Decimal | None  # 80 % of the Covid level
    kpi: Kpi | None  # None until the Covid level is known


def index_series(spending: Mapping[int, Decimal]) -> list[YearPoint]:
    years = sorted(spending)
    if not years:
        return []
    base = spending[years[0]]
    return [
        YearPoint(y, spending[y], (spending[y] / base * 100).quantize(TENTH, rounding=ROUND_HALF_UP))
        for y in years
    ]


def covid_level(spending: Mapping[int, Decimal]) -> Decimal | None:
    if not all(y in spending for y in COVID_YEARS):
        return None
    return sum((spending[y] for y in COVID_YEARS), Decimal(0)) / len(COVID_YEARS)


def kpi(spending: Mapping[int, Decimal]) -> Kpi | None:
    level = covid_level(spending)
    if level is None or level <= 0:
        return None
    latest = max(spending)
    amount = spending[latest]
    target = level * TARGET_SHARE
    return Kpi(
        latest_year=latest,
        latest_spending_dkk=amount,
        ratio_to_covid_level=(amount / level).quantize(RATIO_PLACES, rounding=ROUND_HALF_UP),
        target_met=amount <= target,
        gap_dkk=(amount - target).quantize(ORE, rounding=ROUND_HALF_UP),
    )


def learning_track(spending: Mapping[int, Decimal]) -> LearningTrack:
    level = covid_level(spending)
    return LearningTrack(
        years=index_series(spending),
        covid_level_dkk=None if level is None else level.quantize(ORE, rounding=ROUND_HALF_UP),
        target_dkk=None if level is None else (level * TARGET_SHARE).quantize(ORE, rounding=ROUND_HALF_UP),
        kpi=kpi(spending),
    )


# --- progression summary --------------------------------------------------------------------------


@dataclass(frozen=True)
class Measurement:
    participant_id: str
    measured_on: date
    scores: Mapping[str, int]
    order: tuple[object, ...] = ()  # breaks ties between two measurements of a day (recorded_at, id)


@dataclass(frozen=True)
class Cell:
    period: str
    group: str
    participants: int
    suppressed: bool
    mean_score: Decimal | None
    indicator_means: dict[str, Decimal | None]
    change_since_first: Decimal | None


def period_of(day: date, kind: PeriodKind) -> str:
    if kind == "month":
        return f"{day.year:04d}-{day.month:02d}"
    return f"{day.year:04d}-Q{(day.month - 1) // 3 + 1}"


def _mean(total: int, count: int) -> Decimal:
    return (Decimal(total) / count).quantize(ORE, rounding=ROUND_HALF_UP)


def progression_summary(
    measurements: Iterable[Measurement], kind: PeriodKind, min_participants: int = MIN_PARTICIPANTS
) -> tuple[list[Cell], dict[str, str | None]]:
    """Per period of ``measured_on`` and indicator group: participants measured, the group's mean
    score and each indicator's mean (two decimals), and the change of the group's mean since its first
    period. A participant measured more than once in a period counts once, with the latest
    measurement. Cells from fewer than ``min_participants`` participants are suppressed (means and
    change None); the baseline of the change is the first period that is not suppressed, so a
    suppressed mean cannot be recovered by subtraction. Returns the cells in (period, group) order and
    the baseline period of each group."""
    latest: dict[tuple[str, str], Measurement] = {}
    for m in measurements:
        key = (period_of(m.measured_on, kind), m.participant_id)
        held = latest.get(key)
        if held is None or (m.measured_on, m.order) > (held.measured_on, held.order):
            latest[key] = m
    by_period: dict[str, list[Measurement]] = {}
    for (period, _pid), m in sorted(latest.items()):
        by_period.setdefault(period, []).append(m)

    cells: list[Cell] = []
    baseline: dict[str, Decimal] = {}
    baseline_period: dict[str, str | None] = dict.fromkeys(INDICATOR_GROUPS)
    for period in sorted(by_period):
        members = by_period[period]
        for group, indicators in INDICATOR_GROUPS.items():
            scored = [m for m in members if all(i in m.scores for i in indicators)]
            count = len(scored)
            if count == 0:
                continue
            if count < min_participants:
                cells.append(Cell(period, group, count, True, None, dict.fromkeys(indicators), None))
                continue
            means: dict[str, Decimal | None] = {
                i: _mean(sum(m.scores[i] for m in scored), count) for i in indicators
            }
            group_mean = _mean(sum(m.scores[i] for m in scored for i in indicators), count * len(indicators))
            if group not in baseline:
                baseline[group] = group_mean
                baseline_period[group] = period
            cells.append(Cell(period, group, count, False, group_mean, means, group_mean - baseline[group]))
    return cells, baseline_period
