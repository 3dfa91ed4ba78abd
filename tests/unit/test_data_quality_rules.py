"""The data-quality rules (services/progression/domain/data_quality.py, settlement's
domain/corrections.py): what is late, what is a discrepancy, the cut-off's lag, corrections counted."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

from hypothesis import example, given
from hypothesis import strategies as st

from libs.common.contracts import MilestoneKind, StatusCategory, StatusCode
from libs.rules.timeline import DayCategory, Period, StatusRecord, resolve
from services.progression.domain.data_quality import (
    EXIT_MILESTONES,
    CutoffMove,
    DiscrepancyKind,
    Milestone,
    cutoff_lags,
    days_late,
    discrepancies,
    month_end,
    small_counts,
)
from services.settlement.domain.corrections import corrections

DAYS = st.dates(min_value=date(2020, 1, 1), max_value=date(2030, 12, 31))
CATEGORIES = {
    StatusCode.sygedagpenge: StatusCategory.public_support,
    StatusCode.employed: StatusCategory.self_supporting,
}
POSTED = datetime(2024, 1, 1, tzinfo=UTC)


@given(DAYS, st.one_of(st.none(), st.integers(0, 400)), st.integers(-400, 0))
def test_a_record_posted_on_or_before_the_end_of_its_periods_month_is_never_late(
    start: date, length: int | None, before: int
) -> None:
    end = start + timedelta(days=length) if length is not None else None
    posted = month_end(end or start) + timedelta(days=before)
    assert days_late(start, end, posted) == 0


@given(DAYS, st.one_of(st.none(), st.integers(0, 400)), st.integers(1, 800))
def test_a_late_record_is_late_by_the_days_from_its_periods_month_end_to_its_posting(
    start: date, length: int | None, after: int
) -> None:
    end = start + timedelta(days=length) if length is not None else None
    posted = month_end(end or start) + timedelta(days=after)
    assert days_late(start, end, posted) == after == (posted - month_end(end or start)).days


def test_the_month_end_is_the_last_day_of_the_month() -> None:
    assert month_end(date(2024, 2, 10)) == date(2024, 2, 29)
    assert days_late(date(2024, 1, 20), date(2024, 2, 3), date(2024, 3, 5)) == 5


def _timeline(public_until: date | None, start: date, cutoff: date) -> list[Period]:
    """Sickness benefit from ``start`` to ``public_until`` (open-ended when None), employed after."""
    records = [StatusRecord("r1", StatusCode.sygedagpenge, start, public_until, 1, POSTED)]
    if public_until is not None:
        records.append(
            StatusRecord("r2", StatusCode.employed, public_until + timedelta(days=1), None, 2, POSTED)
        )
    return resolve(records, CATEGORIES, cutoff, start)


@given(DAYS, st.integers(1, 26), st.sampled_from(sorted(EXIT_MILESTONES)), st.integers(0, 200))
def test_a_milestone_with_the_timeline_self_supporting_the_window_later_is_never_a_discrepancy(
    on: date, weeks: int, kind: MilestoneKind, turned_before: int
) -> None:
    window = timedelta(weeks=weeks)
    # Public support ends on a day at most the window after the milestone, so that day is self-supporting.
    public_until = on + window - timedelta(days=1 + turned_before)
    start = min(on, public_until) - timedelta(days=30)
    periods = _timeline(public_until, start, on + window + timedelta(days=10))
    found = discrepancies("p", periods, [Milestone("m", kind, on)], window, on + window + timedelta(days=10))
    assert not [d for d in found if d.kind is DiscrepancyKind.milestone_still_supported]


@given(DAYS, st.integers(1, 26), st.sampled_from(sorted(EXIT_MILESTONES)), st.integers(0, 100))
def test_a_milestone_with_public_support_the_window_later_is_a_discrepancy_once_that_day_has_come(
    on: date, weeks: int, kind: MilestoneKind, extra: int
) -> None:
    window = timedelta(weeks=weeks)
    periods = _timeline(None, on - timedelta(days=10), on + window + timedelta(days=extra))
    milestone = [Milestone("m", kind, on)]
    found = discrepancies("p", periods, milestone, window, on + window + timedelta(days=extra))
    assert [(d.kind, d.milestone_id, d.checked_on) for d in found] == [
        (DiscrepancyKind.milestone_still_supported, "m", on + window)
    ]
    assert discrepancies("p", periods, milestone, window, on + window - timedelta(days=1)) == []


@given(DAYS, st.integers(1, 26), st.integers(0, 200))
def test_a_milestone_whose_check_day_is_after_the_cutoff_is_not_yet_a_finding(
    on: date, weeks: int, gap: int
) -> None:
    window = timedelta(weeks=weeks)
    periods = _timeline(None, on - timedelta(days=10), on - timedelta(days=1))
    assert resolve([], CATEGORIES, on, on)[0].category is DayCategory.self_supporting
    found = discrepancies(
        "p", periods, [Milestone("m", MilestoneKind.job_start, on)], window, on + window + timedelta(days=gap)
    )
    # The records say public support from an open-ended record: it covers days after the cut-off too.
    assert [d.kind for d in found] == [DiscrepancyKind.milestone_still_supported]
    no_record = resolve([], CATEGORIES, on - timedelta(days=1), on - timedelta(days=10))
    assert (
        discrepancies("p", no_record, [Milestone("m", MilestoneKind.job_start, on)], window, on + window)
        == []
    )


@given(DAYS, st.integers(1, 26), st.integers(-200, 200))
@example(date(2024, 5, 16), 4, 28)  # the window's edges are within it
@example(date(2024, 5, 16), 4, -28)
@example(date(2024, 5, 16), 4, 29)
def test_a_turn_to_self_supporting_is_a_discrepancy_exactly_when_no_exit_milestone_is_within_the_window(
    turned: date, weeks: int, offset: int
) -> None:
    window = timedelta(weeks=weeks)
    today = turned + window + timedelta(days=300)
    periods = _timeline(turned - timedelta(days=1), turned - timedelta(days=60), today)
    milestones = [Milestone("m", MilestoneKind.fit_for_work, turned + timedelta(days=offset))]
    found = [
        d
        for d in discrepancies("p", periods, milestones, window, today)
        if d.kind is DiscrepancyKind.exit_without_milestone
    ]
    assert bool(found) == (abs(offset) > window.days)
    other_kind = [Milestone("m", MilestoneKind.visitation, turned)]
    assert [d.turned_on for d in discrepancies("p", periods, other_kind, window, today)] == [turned]


@given(DAYS, st.integers(1, 26), st.booleans())
def test_a_finding_rests_on_the_record_deciding_its_day_or_for_a_turn_on_the_record_that_made_it(
    turned: date, weeks: int, employed_after: bool
) -> None:
    window = timedelta(weeks=weeks)
    today = turned + window + timedelta(days=30)
    # r1: public support to the day before the turn; r2 (when present) self-supporting from the turn,
    # else the cut-off makes the uncovered days self-supporting. r1 is the one the milestone is checked on.
    periods = _timeline(turned - timedelta(days=1), turned - timedelta(days=60), today)
    if not employed_after:
        periods = resolve(
            [StatusRecord("r1", StatusCode.sygedagpenge, turned - timedelta(days=60), turned - timedelta(days=1), 1, POSTED)],
            CATEGORIES,
            today,
            turned - timedelta(days=60),
        )  # fmt: skip
    milestone = Milestone("m", MilestoneKind.job_start, turned - window - timedelta(days=20))
    found = {d.kind: d.record_id for d in discrepancies("p", periods, [milestone], window, today)}
    assert found == {
        DiscrepancyKind.milestone_still_supported: "r1",
        DiscrepancyKind.exit_without_milestone: "r2" if employed_after else "r1",
    }


def test_the_cutoff_lag_is_the_days_from_a_months_end_to_the_move_that_covers_it_for_good() -> None:
    moves = [
        CutoffMove(date(2024, 3, 31), date(2024, 4, 10)),  # March: 10 days
        CutoffMove(date(2024, 5, 31), date(2024, 6, 3)),  # April and May (mistaken for May)
        CutoffMove(date(2024, 4, 30), date(2024, 6, 5)),  # retracted back to April: May uncovered
        CutoffMove(date(2024, 5, 31), date(2024, 6, 20)),  # May again: 20 days
    ]
    assert [(lag.month, lag.covered_on, lag.lag_days) for lag in cutoff_lags(moves)] == [
        ("2024-03", date(2024, 4, 10), 10),
        ("2024-04", date(2024, 6, 3), 34),
        ("2024-05", date(2024, 6, 20), 20),
    ]
    # A first cut-off mid-month: that month is not yet covered whole.
    assert [lag.month for lag in cutoff_lags([CutoffMove(date(2024, 3, 15), date(2024, 3, 20))])] == [
        "2024-02"
    ]
    assert cutoff_lags([]) == []


@given(st.lists(st.tuples(DAYS, st.integers(0, 60)), min_size=1, max_size=6))
def test_every_cutoff_lag_is_never_negative_and_lists_each_covered_month_once(
    moves: list[tuple[date, int]],
) -> None:
    history = sorted(
        (CutoffMove(day, day + timedelta(days=after)) for day, after in moves), key=lambda m: m.recorded_on
    )
    lags = cutoff_lags(history)
    assert all(lag.lag_days >= 0 for lag in lags)
    assert len({lag.month for lag in lags}) == len(lags)


@given(st.dictionaries(st.sampled_from("abcde"), st.integers(0, 10)))
def test_small_counts_never_show_a_group_of_one_or_two_nor_let_the_total_give_one_back(
    counts: dict[str, int],
) -> None:
    shown = small_counts(counts)
    assert all(value is None or not 0 < value < 3 for value in shown.values())
    hidden = sum(counts[name] for name, value in shown.items() if value is None)
    assert not 0 < hidden < 3 or all(value is None for value in shown.values() if value)


def test_corrections_are_counted_per_statement_and_month_and_withheld_for_few_citizens() -> None:
    lines = [
        ("s2", "2024-08", "a", "2024-05", Decimal("-3500.00")),
        ("s2", "2024-08", "b", "2024-05", Decimal("-3500.00")),
        ("s2", "2024-08", "c", "2024-05", Decimal("1750.00")),
        ("s2", "2024-08", "a", "2024-06", Decimal("-100.00")),
        ("s3", "2024-09", "d", "2024-06", Decimal("3500.00")),
    ]
    issued = [("s1", "2024-07"), ("s2", "2024-08"), ("s3", "2024-09")]
    open_view = corrections("x", issued, lines)
    assert (open_view.lines, open_view.citizens, open_view.amount_dkk) == (5, 4, Decimal("-1850.00"))
    assert [(s.period, s.lines, s.amount_dkk) for s in open_view.statements] == [
        ("2024-07", 0, Decimal("0.00")),
        ("2024-08", 4, Decimal("-5350.00")),
        ("2024-09", 1, Decimal("3500.00")),
    ]
    investor = corrections("x", issued, lines, 3)
    # s2's June has one line, and May's three would give it back from the total: both withheld.
    assert [(m.month, m.lines) for m in investor.statements[1].months] == [
        ("2024-05", None),
        ("2024-06", None),
    ]
    # s3's one citizen is withheld, and s2's three with it, or the total minus s2 would give s3 back.
    assert [(s.lines, s.amount_dkk) for s in investor.statements] == [
        (0, Decimal("0.00")),
        (None, None),
        (None, None),
    ]
    assert investor.amount_dkk == Decimal("-1850.00") and investor.suppressed
