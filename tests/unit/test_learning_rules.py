"""Learning track (plausibility, index, KPI) and the progression summary's aggregates and suppression."""

from __future__ import annotations

from datetime import date
from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal

from hypothesis import given
from hypothesis import strategies as st

from libs.common.contracts.progression import INDICATOR_GROUPS, INDICATORS
from services.settlement.domain.learning import (
    Measurement,
    kpi,
    learning_track,
    median,
    period_of,
    plausibility_problem,
    progression_summary,
)

M = Decimal(1_000_000)
# Hedensted (seed 001), MDKK; 2018 is written 12531 in the source where 125.3 is meant.
HEDENSTED = {
    2015: Decimal("98.6") * M,
    2016: Decimal("112.5") * M,
    2017: Decimal("119.4") * M,
    2018: Decimal("125.3") * M,
    2019: Decimal("131.6") * M,
    2020: Decimal("143.9") * M,
    2021: Decimal("152.6") * M,
}
OTHERS = {year: amount for year, amount in HEDENSTED.items() if year != 2018}


def test_the_misplaced_2018_figure_is_refused_with_the_median_quoted() -> None:
    assert median(OTHERS.values()) == Decimal("125.5") * M  # (119.4 + 131.6) / 2
    as_mdkk = plausibility_problem(Decimal("12531000000"), OTHERS)  # 12,531 MDKK
    assert as_mdkk is not None and "125.5 MDKK" in as_mdkk and "decimal separator" in as_mdkk
    assert "more than 3 times" in as_mdkk
    as_dkk = plausibility_problem(Decimal("12531"), OTHERS)  # 12,531 DKK
    assert as_dkk is not None and "125.5 MDKK" in as_dkk and "less than a third" in as_dkk
    assert plausibility_problem(Decimal("125300000"), OTHERS) is None


def test_bounds_hold_without_other_years() -> None:
    assert plausibility_problem(Decimal("0"), {}) is not None
    assert plausibility_problem(Decimal("-1"), {}) is not None
    assert plausibility_problem(Decimal("100000000000"), {}) is not None
    assert plausibility_problem(Decimal("99999999999.99"), {}) is None
    assert plausibility_problem(Decimal("0.01"), {}) is None


def test_the_edges_of_the_plausible_band_are_accepted() -> None:
    others = {2015: Decimal("300.00"), 2016: Decimal("300.00")}
    assert plausibility_problem(Decimal("100.00"), others) is None
    assert plausibility_problem(Decimal("900.00"), others) is None
    assert plausibility_problem(Decimal("99.99"), others) is not None
    assert plausibility_problem(Decimal("900.01"), others) is not None


def test_index_covid_level_target_and_kpi_of_the_seed_series() -> None:
    track = learning_track(HEDENSTED)
    assert [(p.year, p.index) for p in track.years] == [
        (2015, Decimal("100.0")),
        (2016, Decimal("114.1")),  # 112.5 / 98.6 = 1.14097
        (2017, Decimal("121.1")),
        (2018, Decimal("127.1")),
        (2019, Decimal("133.5")),
        (2020, Decimal("145.9")),
        (2021, Decimal("154.8")),
    ]
    assert track.covid_level_dkk == Decimal("148250000.00")
    assert track.target_dkk == Decimal("118600000.00")
    assert track.kpi is not None
    assert track.kpi.latest_year == 2021
    assert track.kpi.ratio_to_covid_level == Decimal("1.0293")
    assert track.kpi.target_met is False
    assert track.kpi.gap_dkk == Decimal("34000000.00")


def test_no_covid_level_until_both_years_are_stored() -> None:
    track = learning_track({y: a for y, a in HEDENSTED.items() if y != 2021})
    assert track.covid_level_dkk is None and track.target_dkk is None and track.kpi is None
    assert learning_track({}).years == []


def test_the_target_is_met_at_exactly_80_percent() -> None:
    result = kpi(HEDENSTED | {2024: Decimal("118600000.00")})
    assert result is not None and result.target_met and result.gap_dkk == 0
    assert result.ratio_to_covid_level == Decimal("0.8000")
    above = kpi(HEDENSTED | {2024: Decimal("118600000.01")})
    assert above is not None and not above.target_met


amounts = st.decimals(min_value=Decimal("1.00"), max_value=Decimal("10000000000"), places=2)


@given(covid=st.tuples(amounts, amounts), latest=st.tuples(amounts, amounts), later=st.booleans())
def test_the_kpi_ratio_is_monotonic_in_the_latest_years_spending(
    covid: tuple[Decimal, Decimal], latest: tuple[Decimal, Decimal], later: bool
) -> None:
    low, high = sorted(latest)
    base = {2019: Decimal("1000.00"), 2020: covid[0]}
    # The latest year is 2021 itself (then it moves the Covid level too) or a later one.
    if later:
        series_low, series_high = base | {2021: covid[1], 2023: low}, base | {2021: covid[1], 2023: high}
    else:
        series_low, series_high = base | {2021: low}, base | {2021: high}
    first, second = kpi(series_low), kpi(series_high)
    assert first is not None and second is not None
    assert first.ratio_to_covid_level <= second.ratio_to_covid_level
    assert first.gap_dkk <= second.gap_dkk
    assert not (first.target_met is False and second.target_met is True)


@given(
    others=st.lists(amounts.filter(lambda a: a <= Decimal("3000000000")), min_size=1, max_size=8),
    position=st.floats(min_value=0, max_value=1),
)
def test_plausibility_accepts_any_value_between_a_third_and_three_times_the_median(
    others: list[Decimal], position: float
) -> None:
    stored = {2015 + i: amount for i, amount in enumerate(others)}
    middle = median(stored.values())
    low = (middle / 3).quantize(Decimal("0.01"), rounding=ROUND_CEILING)
    high = (middle * 3).quantize(Decimal("0.01"), rounding=ROUND_FLOOR)
    value = (low + (high - low) * Decimal(str(position))).quantize(Decimal("0.01"), rounding=ROUND_FLOOR)
    value = max(low, min(high, value))
    assert plausibility_problem(value, stored) is None
    assert plausibility_problem(high + Decimal("0.01"), stored) is not None
    if low - Decimal("0.01") > 0 and (low - Decimal("0.01")) * 3 < middle:
        assert plausibility_problem(low - Decimal("0.01"), stored) is not None


# --- progression summary ----------------------------------------------------------------------------


def scores(value: int, **overrides: int) -> dict[str, int]:
    return dict.fromkeys(INDICATORS, value) | overrides


def test_periods() -> None:
    assert period_of(date(2024, 3, 31), "quarter") == "2024-Q1"
    assert period_of(date(2024, 4, 1), "quarter") == "2024-Q2"
    assert period_of(date(2024, 12, 1), "month") == "2024-12"


def test_means_per_group_and_indicator_and_the_change_since_the_first_period() -> None:
    q1 = [
        Measurement("a", date(2024, 1, 10), scores(2, coping=5)),
        Measurement("b", date(2024, 2, 10), scores(3)),
        Measurement("c", date(2024, 3, 10), scores(4)),
    ]
    q2 = [
        Measurement("a", date(2024, 4, 10), scores(5)),
        Measurement("a", date(2024, 5, 10), scores(6)),  # the later one counts; a counted once
        Measurement("b", date(2024, 5, 10), scores(6)),
        Measurement("c", date(2024, 6, 10), scores(7)),
    ]
    cells, baselines = progression_summary(q1 + q2, "quarter")
    assert baselines == dict.fromkeys(INDICATOR_GROUPS, "2024-Q1")
    by = {(c.period, c.group): c for c in cells}
    dev = by[("2024-Q1", "development")]
    assert dev.participants == 3 and not dev.suppressed
    assert dev.indicator_means["coping"] == Decimal("4.00")  # (5 + 3 + 4) / 3
    assert dev.indicator_means["motivation"] == Decimal("3.00")
    assert dev.mean_score == Decimal("3.25")  # (2+2+5+2 + 3*4 + 4*4) / 12 = 39/12
    assert dev.change_since_first == Decimal("0.00")
    later = by[("2024-Q2", "development")]
    assert later.participants == 3 and later.mean_score == Decimal("6.33")  # (6 + 6 + 7) / 3
    assert later.change_since_first == Decimal("3.08")
    assert by[("2024-Q2", "future")].change_since_first == Decimal("3.33")  # 6.33 - 3.00
    assert [c.period for c in cells] == ["2024-Q1"] * 3 + ["2024-Q2"] * 3


def test_a_cell_from_fewer_than_three_participants_is_suppressed_and_never_a_baseline() -> None:
    measurements = [
        Measurement("a", date(2024, 1, 10), scores(9)),
        Measurement("b", date(2024, 1, 11), scores(9)),
        Measurement("a", date(2024, 4, 10), scores(2)),
        Measurement("b", date(2024, 4, 11), scores(3)),
        Measurement("c", date(2024, 4, 12), scores(4)),
    ]
    cells, baselines = progression_summary(measurements, "quarter")
    first = [c for c in cells if c.period == "2024-Q1"]
    assert all(c.suppressed and c.participants == 2 for c in first)
    assert all(c.mean_score is None and c.change_since_first is None for c in first)
    assert all(v is None for c in first for v in c.indicator_means.values())
    assert baselines == dict.fromkeys(INDICATOR_GROUPS, "2024-Q2")
    second = [c for c in cells if c.period == "2024-Q2"]
    assert all(not c.suppressed and c.mean_score == Decimal("3.00") for c in second)
    assert all(c.change_since_first == 0 for c in second)
