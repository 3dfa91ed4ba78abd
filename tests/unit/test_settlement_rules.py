"""Fee-eligible months and statements (DOMAIN.md "Fee-eligible months", "Settlement statements")."""

from __future__ import annotations

import math
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from fractions import Fraction

import pytest
from dateutil.relativedelta import relativedelta
from hypothesis import given
from hypothesis import strategies as st

from libs.common.contracts import STATUS_CODES, MonthRule, ProgrammeTerms, StatusCode
from libs.rules.timeline import DayCategory, StatusRecord, resolve
from services.settlement.domain import (
    Enrolment,
    IssuedLine,
    LineKind,
    LineRef,
    Month,
    TermsVersion,
    Totals,
    build_statement,
    compute_months,
    follow_up_window,
    month_fee,
    months_of,
    split_cumulative,
)

FEE = Decimal("3500.00")
SELF = DayCategory.self_supporting
PUBLIC = DayCategory.public_support
UNKNOWN = DayCategory.unknown


def always(category: DayCategory) -> Callable[[date], DayCategory]:
    return lambda _day: category


# --- the window -----------------------------------------------------------------------------------


def test_the_seed_example_window() -> None:
    window = follow_up_window(date(2024, 3, 15), 24)
    assert (window.start, window.end) == (date(2024, 3, 15), date(2026, 3, 14))


def test_enrolled_on_the_31st_clamps_like_relativedelta() -> None:
    assert follow_up_window(date(2024, 1, 31), 1).end == date(2024, 2, 28)
    assert follow_up_window(date(2023, 1, 31), 1).end == date(2023, 2, 27)
    assert follow_up_window(date(2024, 8, 31), 1).end == date(2024, 9, 29)


def test_a_leap_day_enrolment() -> None:
    assert follow_up_window(date(2024, 2, 29), 12).end == date(2025, 2, 27)
    assert follow_up_window(date(2024, 2, 29), 48).end == date(2028, 2, 28)


def test_withdrawal_ends_the_window_the_day_before() -> None:
    assert follow_up_window(date(2024, 3, 15), 24, date(2024, 6, 1)).end == date(2024, 5, 31)
    assert follow_up_window(date(2024, 3, 15), 24, date(2027, 1, 1)).end == date(2026, 3, 14)
    assert follow_up_window(date(2024, 3, 15), 24, date(2024, 3, 15)).is_empty
    assert list(months_of(follow_up_window(date(2024, 3, 15), 24, date(2024, 3, 15)))) == []


@given(st.dates(date(2020, 1, 1), date(2030, 12, 31)), st.integers(1, 36))
def test_the_window_covers_its_months_and_nothing_else(enrolled: date, months: int) -> None:
    window = follow_up_window(enrolled, months)
    assert window.end + timedelta(days=1) == enrolled + relativedelta(months=months)
    covered = list(months_of(window))
    assert covered[0] == Month.of(enrolled) and covered[-1] == Month.of(window.end)
    assert len(covered) in (months, months + 1)
    in_window = sum(
        month_fee(m, window, always(SELF), FEE, MonthRule.full_month).in_window_days for m in covered
    )
    assert in_window == (window.end - window.start).days + 1


# --- a month's fee --------------------------------------------------------------------------------


def test_a_whole_self_supporting_month_earns_the_whole_fee() -> None:
    window = follow_up_window(date(2024, 3, 15), 24)
    april = month_fee(Month(2024, 4), window, always(SELF), FEE, MonthRule.full_month)
    assert (april.in_window_days, april.fee_dkk, april.provisional) == (30, FEE, False)


def test_first_and_last_months_earn_their_share() -> None:
    window = follow_up_window(date(2024, 3, 15), 24)
    march = month_fee(Month(2024, 3), window, always(SELF), FEE, MonthRule.full_month)
    assert (march.in_window_days, march.fee_dkk) == (17, Decimal("1919.35"))  # 3500 x 17/31
    last = month_fee(Month(2026, 3), window, always(SELF), FEE, MonthRule.full_month)
    assert (last.in_window_days, last.fee_dkk) == (14, Decimal("1580.65"))  # 3500 x 14/31 = 1580.645...


def test_one_day_of_public_support_costs_the_whole_month_under_full_month() -> None:
    window = follow_up_window(date(2024, 3, 15), 24)

    def one_sick_day(day: date) -> DayCategory:
        return PUBLIC if day == date(2024, 4, 10) else SELF

    assert month_fee(Month(2024, 4), window, one_sick_day, FEE, MonthRule.full_month).fee_dkk == Decimal(
        "0.00"
    )
    pro_rata = month_fee(Month(2024, 4), window, one_sick_day, FEE, MonthRule.pro_rata_days)
    assert (pro_rata.self_supporting_days, pro_rata.public_support_days) == (29, 1)
    assert pro_rata.fee_dkk == Decimal("3383.33")  # 3500 x 29/30


def test_february_of_a_leap_year_has_29_days() -> None:
    window = follow_up_window(date(2024, 1, 1), 24)

    def first_half(day: date) -> DayCategory:
        return SELF if day.day <= 15 else PUBLIC

    february = month_fee(Month(2024, 2), window, first_half, FEE, MonthRule.pro_rata_days)
    assert (february.in_window_days, february.fee_dkk) == (29, Decimal("1810.34"))  # 3500 x 15/29


def test_a_month_with_an_unknown_day_is_provisional() -> None:
    window = follow_up_window(date(2024, 3, 15), 24)

    def known_until_the_20th(day: date) -> DayCategory:
        return SELF if day <= date(2024, 4, 20) else UNKNOWN

    full = month_fee(Month(2024, 4), window, known_until_the_20th, FEE, MonthRule.full_month)
    assert full.provisional and full.unknown_days == 10 and full.fee_dkk == Decimal("0.00")
    pro_rata = month_fee(Month(2024, 4), window, known_until_the_20th, FEE, MonthRule.pro_rata_days)
    assert pro_rata.provisional and pro_rata.fee_dkk == Decimal("2333.33")  # earned so far, never invoiced


def test_rounding_is_half_up_once_per_month() -> None:
    window = follow_up_window(date(2024, 4, 16), 24)  # 15 in-window days of 30 in April
    april = month_fee(Month(2024, 4), window, always(SELF), Decimal("0.05"), MonthRule.full_month)
    assert april.fee_dkk == Decimal("0.03")  # 0.025 -> 0.03 (banker's rounding would give 0.02)


@given(
    st.dates(date(2023, 1, 1), date(2026, 12, 31)),
    st.lists(st.sampled_from(list(DayCategory)), min_size=31, max_size=31),
    st.decimals(min_value=0, max_value=20000, places=2),
)
def test_fees_never_exceed_the_monthly_fee_and_pro_rata_never_pays_less(
    enrolled: date, pattern: list[DayCategory], fee: Decimal
) -> None:
    window = follow_up_window(enrolled, 24)
    month = Month.of(enrolled).plus(1)

    def category(day: date) -> DayCategory:
        return pattern[day.day - 1]

    full = month_fee(month, window, category, fee, MonthRule.full_month)
    pro_rata = month_fee(month, window, category, fee, MonthRule.pro_rata_days)
    assert Decimal(0) <= full.fee_dkk <= fee and full.fee_dkk <= pro_rata.fee_dkk <= fee
    assert full.provisional == (UNKNOWN in pattern[: month.days])
    assert full.in_window_days == full.self_supporting_days + full.public_support_days + full.unknown_days


# --- statements -----------------------------------------------------------------------------------

keys = st.tuples(
    st.sampled_from(["p1", "p2", "p3", "p4"]), st.sampled_from([Month(2024, m) for m in range(1, 7)])
)
fees = st.decimals(min_value=0, max_value=4000, places=2)
rounds = st.lists(st.dictionaries(keys, fees, max_size=12), min_size=1, max_size=6)


def issue_all(
    states: list[dict[tuple[str, Month], Decimal]], cap: Decimal, investor_percent: Decimal
) -> list[tuple[list[IssuedLine], Totals]]:
    issued: list[IssuedLine] = []
    statements = []
    for number, current in enumerate(states):
        lines, totals = build_statement(current, issued, cap, investor_percent)
        new = [IssuedLine(LineRef(f"s{number}", i), line) for i, line in enumerate(lines)]
        issued += new
        statements.append((new, totals))
    return statements


@given(rounds, st.decimals(min_value=0, max_value=30000, places=2), st.integers(0, 100))
def test_statement_invariants_hold_after_every_statement(
    states: list[dict[tuple[str, Month], Decimal]], cap: Decimal, investor: int
) -> None:
    issued: list[IssuedLine] = []
    investor_paid = provider_paid = Decimal("0.00")
    for number, current in enumerate(states):
        lines, totals = build_statement(current, issued, cap, Decimal(investor))
        issued += [IssuedLine(LineRef(f"s{number}", i), line) for i, line in enumerate(lines)]
        # Each (citizen, month): its lines add up to its current fee (0 when no longer eligible).
        for key in {k for k in current} | {
            (i.line.participant_id, i.line.month) for i in issued if i.line.month
        }:
            total = sum(
                (i.line.amount for i in issued if (i.line.participant_id, i.line.month) == key), Decimal(0)
            )
            assert total == current.get(key, Decimal("0.00"))  # type: ignore[arg-type]
        earned = sum(current.values(), Decimal("0.00"))
        invoiced = sum((i.line.amount for i in issued), Decimal("0.00"))
        assert totals.cumulative_earned == earned
        assert totals.cumulative_invoiced == invoiced == min(cap, earned)
        investor_paid += totals.investor
        provider_paid += totals.provider
        assert investor_paid + provider_paid == invoiced
        assert (investor_paid, provider_paid) == split_cumulative(invoiced, Decimal(investor))
        # Adjustments refer to a line of the same citizen and month in an earlier statement.
        for item in issued:
            if item.line.kind is LineKind.adjustment:
                assert (
                    item.line.corrects is not None and item.line.corrects.statement_id < item.ref.statement_id
                )


@given(rounds)
def test_nothing_changed_means_no_new_lines(states: list[dict[tuple[str, Month], Decimal]]) -> None:
    issued: list[IssuedLine] = []
    lines, _ = build_statement(states[-1], issued, Decimal("1e9"), Decimal(60))
    issued = [IssuedLine(LineRef("s0", i), line) for i, line in enumerate(lines)]
    again, totals = build_statement(states[-1], issued, Decimal("1e9"), Decimal(60))
    assert again == [] and totals.net == 0


def test_a_correction_of_an_invoiced_month_gives_an_adjustment_referring_to_it() -> None:
    january = ("p1", Month(2024, 1))
    [(first, _), (second, totals)] = issue_all(
        [{january: FEE}, {january: Decimal("0.00")}], Decimal("1e9"), Decimal(60)
    )
    assert [(i.line.kind, i.line.amount) for i in first] == [(LineKind.fee, FEE)]
    [adjustment] = second
    assert (adjustment.line.kind, adjustment.line.amount) == (LineKind.adjustment, -FEE)
    assert adjustment.line.corrects == first[0].ref
    assert (totals.investor, totals.provider) == (Decimal("-2100.00"), Decimal("-1400.00"))


def test_the_cap_is_its_own_line_and_gives_back_when_earnings_fall() -> None:
    a, b = ("p1", Month(2024, 1)), ("p2", Month(2024, 1))
    cap = Decimal("5000.00")
    [(first, t1), (second, t2)] = issue_all(
        [{a: FEE, b: FEE}, {a: FEE, b: Decimal("0.00")}], cap, Decimal(60)
    )
    assert [(i.line.kind, i.line.amount) for i in first] == [
        (LineKind.fee, FEE),
        (LineKind.fee, FEE),
        (LineKind.cap, Decimal("-2000.00")),
    ]
    assert t1.cumulative_invoiced == cap
    assert [(i.line.kind, i.line.amount) for i in second] == [
        (LineKind.adjustment, -FEE),
        (LineKind.cap, Decimal("2000.00")),
    ]
    assert t2.cumulative_invoiced == FEE and t2.net == Decimal("-1500.00")


@pytest.mark.parametrize(
    ("amount", "investor"), [(Decimal("0.01"), Decimal("0.01")), (Decimal("100.01"), Decimal("60.01"))]
)
def test_the_split_rounds_the_investor_half_up_and_the_provider_takes_the_rest(
    amount: Decimal, investor: Decimal
) -> None:
    assert split_cumulative(amount, Decimal(60)) == (investor, amount - investor)


def investor_share_oracle(amount: Decimal, percent: Decimal) -> Decimal:
    """Test oracle: the investor's share in whole øre, a half øre rounded up, in exact fractions."""
    exact = Fraction(int(amount * 100)) * Fraction(percent) / 100
    return Decimal(math.floor(exact + Fraction(1, 2))) / 100


@pytest.mark.parametrize(
    ("amount", "percent", "investor"),
    [
        # Ties on an even øre, where half-even would round down: each goes up, to the investor.
        (Decimal("0.01"), Decimal(50), Decimal("0.01")),  # 0.005
        (Decimal("0.05"), Decimal(50), Decimal("0.03")),  # 0.025
        (Decimal("1000.01"), Decimal(50), Decimal("500.01")),  # 500.005
        (Decimal("0.10"), Decimal(45), Decimal("0.05")),  # 0.045
        (Decimal("100.10"), Decimal(45), Decimal("45.05")),  # 45.045
        (Decimal("0.30"), Decimal(45), Decimal("0.14")),  # 0.135, a tie on an odd øre
        (Decimal("0.02"), Decimal("12.5"), Decimal("0.00")),  # 0.0025: below half an øre
    ],
)
def test_a_split_on_a_half_ore_gives_the_investor_the_half_and_the_provider_the_rest(
    amount: Decimal, percent: Decimal, investor: Decimal
) -> None:
    assert split_cumulative(amount, percent) == (investor, amount - investor)


@given(
    st.decimals(min_value=0, max_value=10_000_000, places=2),
    st.one_of(st.sampled_from([Decimal(50), Decimal(45), Decimal(55)]), st.decimals(0, 100, places=2)),
)
def test_the_split_matches_exact_arithmetic_at_any_percentage(amount: Decimal, percent: Decimal) -> None:
    investor, provider = split_cumulative(amount, percent)
    assert investor == investor_share_oracle(amount, percent)
    assert provider == amount - investor


# --- a participant's months under the programme's terms ----------------------------------------------


def _terms(**changes: object) -> ProgrammeTerms:
    base: dict[str, object] = {
        "tracks": {"sygedagpenge": 120},
        "fee_per_month_dkk": "3500",
        "total_cap_dkk": "5600000",
        "split": {"investor_percent": "60", "provider_percent": "40"},
    }
    return ProgrammeTerms.model_validate(base | changes)


T0 = datetime(2024, 1, 1, tzinfo=UTC)


def test_a_remapped_code_earns_fees_under_that_programme_only() -> None:
    leave = [StatusRecord("r1", StatusCode.barselsdagpenge, date(2024, 3, 1), None, 1, T0)]
    enrolment = Enrolment("sygedagpenge", date(2024, 3, 1), None)
    default = compute_months(enrolment, [TermsVersion(1, date(2024, 1, 1), _terms())], leave, None)
    remapped_terms = _terms(status_categories={"barselsdagpenge": "self_supporting"})
    remapped = compute_months(enrolment, [TermsVersion(1, date(2024, 1, 1), remapped_terms)], leave, None)
    assert {m.fee.fee_dkk for m in default} == {Decimal("0.00")}
    assert {m.fee.fee_dkk for m in remapped} == {FEE}


def test_a_new_terms_version_applies_from_its_effective_date_and_the_window_keeps_the_first() -> None:
    working = [StatusRecord("r1", StatusCode.employed, date(2024, 3, 1), None, 1, T0)]
    versions = [
        TermsVersion(1, date(2024, 1, 1), _terms(follow_up_months=6)),
        TermsVersion(
            2,
            date(2024, 6, 1),
            _terms(
                follow_up_months=24,
                fee_per_month_dkk="4000",
                track_fee_per_month_dkk={"sygedagpenge": "4200"},
            ),
        ),
    ]
    months = compute_months(Enrolment("sygedagpenge", date(2024, 3, 1), None), versions, working, None)
    assert [str(m.fee.month) for m in months] == [
        "2024-03",
        "2024-04",
        "2024-05",
        "2024-06",
        "2024-07",
        "2024-08",
    ]
    assert [m.fee.fee_dkk for m in months] == [
        FEE,
        FEE,
        FEE,
        Decimal("4200.00"),
        Decimal("4200.00"),
        Decimal("4200.00"),
    ]
    assert [m.terms_version for m in months] == [1, 1, 1, 2, 2, 2]


def test_without_terms_or_enrolment_there_is_nothing_to_compute() -> None:
    assert compute_months(Enrolment("sygedagpenge", date(2024, 3, 1), None), [], [], None) == []


def test_a_record_or_cutoff_at_the_end_of_time_is_computed_and_explained_without_overflow() -> None:
    """A record stored before dates were bounded (valid_to 9999-12-31) and a cut-off there: the months
    and the timeline an explanation reads are still computed (they raised OverflowError before)."""
    forever = [StatusRecord("r1", StatusCode.employed, date(2024, 3, 1), date.max, 1, T0)]
    enrolment = Enrolment("sygedagpenge", date(2024, 3, 1), None)
    months = compute_months(enrolment, [TermsVersion(1, date(2024, 1, 1), _terms())], forever, date.max)
    assert months and all(m.fee.fee_dkk > 0 and not m.fee.unknown_days for m in months)
    defaults = {code: category for code, (_, category) in STATUS_CODES.items()}
    periods = resolve(forever, defaults, date.max, date(2024, 3, 1))
    assert [(p.start, p.end, p.category) for p in periods] == [
        (date(2024, 3, 1), None, DayCategory.self_supporting)
    ]


@given(rounds, rounds, st.decimals(min_value=0, max_value=30000, places=2), st.integers(0, 100))
def test_an_erased_participant_is_settled_at_what_was_invoiced_and_nobody_else_changes(
    before: list[dict[tuple[str, Month], Decimal]],
    after: list[dict[tuple[str, Month], Decimal]],
    cap: Decimal,
    investor: int,
) -> None:
    """Erasing a participant (its months gone, its id settled) makes the same next statement as keeping
    its months at exactly what was invoiced for them: no line for it, every other line and total alike."""
    issued: list[IssuedLine] = []
    for number, current in enumerate(before):
        lines, _ = build_statement(current, issued, cap, Decimal(investor))
        issued += [IssuedLine(LineRef(f"s{number}", i), line) for i, line in enumerate(lines)]
    erased = min((pid for state in before for pid, _ in state), default="p1")
    current = {key: fee for key, fee in after[-1].items() if key[0] != erased}
    frozen = dict(current)
    for item in issued:
        line = item.line
        if line.participant_id == erased and line.month is not None:
            key = (erased, line.month)
            frozen[key] = frozen.get(key, Decimal("0.00")) + line.amount
    lines, totals = build_statement(current, issued, cap, Decimal(investor), settled=frozenset({erased}))
    oracle_lines, oracle_totals = build_statement(frozen, issued, cap, Decimal(investor))
    assert [line for line in lines if line.participant_id == erased] == []
    assert lines == oracle_lines and totals == oracle_totals
