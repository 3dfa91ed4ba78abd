"""The small-cell rule of what an investor sees (services/settlement/domain/disclosure.py): a
statement's lines summed per month and kind, the outcome report's figures, the outcome chart."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

from hypothesis import example, given, settings
from hypothesis import strategies as st

from libs.rules.disclosure import suppressed_overlapping
from services.settlement.domain.disclosure import (
    KIND_TOTALS,
    MIN_CITIZENS,
    StatementCells,
    suppressed_groups,
    withhold_small_outcomes,
)
from services.settlement.domain.learning import MIN_PARTICIPANTS
from services.settlement.domain.outcomes import (
    Interval,
    OutcomeReport,
    TrackOutcome,
    WeekCount,
    window_month_shares,
)

CITIZENS = [f"00000000-0000-4000-8000-00000000000{n}" for n in range(7)]
MONTHS = ["2024-03", "2024-04", "2024-05", "2024-06"]

Line = tuple[str, str, str, Decimal]  # kind, participant_id, month, amount


@st.composite
def statements(draw: st.DrawFn) -> tuple[list[Line], Decimal | None]:
    """Lines as a statement has them: at most one per (citizen, month), fee or adjustment; a cap."""
    keys = draw(st.sets(st.tuples(st.sampled_from(CITIZENS), st.sampled_from(MONTHS)), max_size=20))
    lines = [
        (
            draw(st.sampled_from(["fee", "adjustment"])),
            citizen,
            month,
            Decimal(draw(st.integers(-350_000, 350_000))) / 100,
        )
        for citizen, month in sorted(keys)
    ]
    cap = draw(st.none() | st.integers(-100_000, -1).map(lambda n: Decimal(n) / 100))
    return draw(st.permutations(lines)), cap


def citizens_of(lines: list[Line], cells: set[tuple[str, str]]) -> int:
    return len({pid for kind, pid, month, _ in lines if (month, kind) in cells})


@settings(max_examples=300, deadline=None)
@given(statements())
def test_no_suppressed_cell_comes_back_by_subtraction_and_no_citizen_is_named(
    statement: tuple[list[Line], Decimal | None],
) -> None:
    lines, cap = statement
    folded = StatementCells()
    for kind, pid, month, amount in lines:
        folded.add(kind, pid, month, amount)
    if cap is not None:
        folded.add("cap", None, None, cap)
    cells, withheld = folded.result()

    assert not any(pid in repr(cells) for pid in CITIZENS)
    assert (cells[-1].kind, cells[-1].amount) == ("cap", cap) if cap is not None else True
    by_cell: dict[tuple[str, str], list[Line]] = {}
    for line in lines:
        by_cell.setdefault((line[2], line[0]), []).append(line)
    citizen_cells = [c for c in cells if c.kind != "cap"]
    assert [(c.month, c.kind) for c in citizen_cells] == sorted(by_cell)
    suppressed = set()
    for cell in citizen_cells:
        assert cell.month is not None
        own = by_cell[(cell.month, cell.kind)]
        if cell.suppressed:
            assert (cell.citizens, cell.amount) == (None, None)
            suppressed.add((cell.month, cell.kind))
        else:  # a cell shown is at least MIN_CITIZENS citizens, and exactly their lines
            assert cell.citizens == len(own) >= MIN_CITIZENS
            assert cell.amount == sum(line[3] for line in own)

    # The net (and the cap) is always shown: the net minus the cap and the cells shown is exactly the
    # suppressed cells' lines, which cover no citizen or at least MIN_CITIZENS, unless the statement's
    # citizen lines themselves are from fewer.
    net = sum((line[3] for line in lines), Decimal(0)) + (cap or 0)
    shown = sum((c.amount for c in citizen_cells if c.amount is not None), Decimal(0))
    remainder = net - (cap or 0) - shown
    assert remainder == sum((line[3] for cell in suppressed for line in by_cell[cell]), Decimal(0))
    everyone = len({line[1] for line in lines})
    if everyone >= MIN_CITIZENS:
        assert citizens_of(lines, suppressed) == 0 or citizens_of(lines, suppressed) >= MIN_CITIZENS
    else:
        assert suppressed == set(by_cell)
    # A total per kind shown beside the cells: its suppressed cells cover none or MIN_CITIZENS.
    for kind, total in KIND_TOTALS.items():
        if total not in withheld:
            count = citizens_of(lines, {cell for cell in suppressed if cell[1] == kind})
            assert count == 0 or count >= MIN_CITIZENS
    assert withheld in (set(), set(KIND_TOTALS.values()))


def test_one_citizens_adjustment_withholds_the_kind_totals_and_the_smallest_fee_cell() -> None:
    folded = StatementCells()
    for pid in CITIZENS[:4]:
        folded.add("fee", pid, "2024-07", Decimal("3500.00"))
    for pid in CITIZENS[:5]:
        folded.add("fee", pid, "2024-08", Decimal("3500.00"))
    folded.add("adjustment", CITIZENS[0], "2024-06", Decimal("-3500.00"))
    cells, withheld = folded.result()
    assert [(c.month, c.kind, c.citizens, c.amount, c.suppressed) for c in cells] == [
        ("2024-06", "adjustment", None, None, True),
        ("2024-07", "fee", None, None, True),  # the smallest shown cell, so the remainder is 5 citizens
        ("2024-08", "fee", 5, Decimal("17500.00"), False),
    ]
    assert withheld == {"fees", "adjustments"}


def test_two_small_cells_of_one_citizen_are_one_citizen() -> None:
    """Citizens are counted once over the suppressed cells: two months of one citizen are still one."""
    folded = StatementCells()
    for pid in CITIZENS[:3]:
        folded.add("fee", pid, "2024-05", Decimal("3500.00"))
    folded.add("fee", CITIZENS[6], "2024-06", Decimal("100.00"))
    folded.add("fee", CITIZENS[6], "2024-07", Decimal("200.00"))
    cells, withheld = folded.result()
    # The two months of one citizen take the 3 citizens' month with them; the remainder under the fees
    # shown is then 4 citizens' lines.
    assert all(c.suppressed for c in cells) and withheld == set()


def test_the_rule_is_one_constant_with_the_progression_summary() -> None:
    assert MIN_CITIZENS == MIN_PARTICIPANTS == 3


def test_groups_withheld_with_their_complement() -> None:
    assert suppressed_groups({"a": 120, "b": 30}) == set()
    assert suppressed_groups({"a": 120, "b": 2, "c": 30}) == {"b", "c"}
    assert suppressed_groups({"a": 1, "b": 2, "c": 30}) == {"a", "b"}
    assert suppressed_groups({"a": 2, "b": 0}) == {"a"}
    assert suppressed_groups({"a": 0}) == set()


def report(**tracks: tuple[int, int]) -> OutcomeReport:
    """An outcome report: per track (participants, windows complete)."""
    return OutcomeReport(
        programme_id="p",
        data_complete_through=None,
        computed_at=datetime(2026, 1, 1, tzinfo=UTC),
        participants=sum(p for p, _ in tracks.values()),
        windows_complete=sum(c for _, c in tracks.values()),
        windows_open=0,
        is_projection=False,
        tracks=[
            TrackOutcome(
                track=name,
                participants=p,
                windows_complete=c,
                mean_weeks_complete_windows=Decimal("50") if c else None,
                mean_weeks_projected=Decimal("60") if p else None,
                control_baseline_weeks=None,
            )
            for name, (p, c) in tracks.items()
        ],
        mean_weeks=Decimal("60"),
        control_baseline_weeks=None,
        effect_weeks=Decimal("8"),
        effect_ci95=Interval(Decimal("1"), Decimal("9"), 2000, 2022),
        target_uplift_weeks=Decimal("10"),
        target_met=False,
        target_met_at_95=False,
    )


def test_outcome_figures_of_fewer_than_three_windows_or_citizens_are_withheld() -> None:
    out = withhold_small_outcomes(report(sygedagpenge=(120, 2), jobafklaring=(30, 3)))
    syg, job = out.tracks
    assert syg.mean_weeks_complete_windows is None and syg.mean_weeks_complete_windows_suppressed
    assert job.mean_weeks_complete_windows == 50 and not job.mean_weeks_complete_windows_suppressed
    assert not out.suppressed and out.effect_weeks == 8

    out = withhold_small_outcomes(report(sygedagpenge=(120, 0), jobafklaring=(2, 0)))
    syg, job = out.tracks
    # The small track's projected mean, and the larger one's, so the overall mean cannot give it back.
    assert syg.mean_weeks_projected is None and job.mean_weeks_projected is None
    assert syg.mean_weeks_projected_suppressed and job.mean_weeks_projected_suppressed
    assert out.mean_weeks == 60 and not out.suppressed

    out = withhold_small_outcomes(report(sygedagpenge=(2, 2)))
    assert out.suppressed and out.mean_weeks is None and out.effect_ci95 is None
    assert out.target_met is None

    seen = withhold_small_outcomes(report(sygedagpenge=(2, 2)), minimum=1)
    assert seen.tracks[0].mean_weeks_complete_windows == 50 and not seen.suppressed


def test_the_chart_leaves_out_months_of_the_window_seen_for_fewer_than_three_citizens() -> None:
    long = WeekCount((True,) * 104)
    short = WeekCount((False,) * 8 + (None,) * 96)
    counts = [long, long, short]
    everyone = window_month_shares(counts)
    assert everyone[0] == Decimal("0.6667") and everyone[23] == 1
    small = window_month_shares(counts, min_citizens=3)
    assert small[0] == Decimal("0.6667") and small[23] is None


def test_overlapping_groups_are_withheld_until_the_withheld_citizens_are_three_counted_once() -> None:
    # Two feeds of the same two citizens hold 4 by count but 2 people: the third feed goes too.
    assert suppressed_overlapping({"a": {"x", "y"}, "b": {"x", "y"}, "c": {"p", "q", "r"}}) == {"a", "b", "c"}
    assert suppressed_groups({"a": 2, "b": 2, "c": 3}) == {"a", "b"}  # counts alone would show c
    assert suppressed_overlapping({"a": {"x"}, "b": {"x", "p", "q"}, "c": {"r", "s", "t"}}) == {"a", "b"}
    assert suppressed_overlapping({"a": set(), "b": {"x", "y", "z"}}) == set()


GROUPS = st.dictionaries(st.sampled_from("abcd"), st.frozensets(st.sampled_from("pqrstuvw"), max_size=6))


@given(GROUPS)
@example({"a": frozenset("pq"), "b": frozenset("pq"), "c": frozenset("rst")})
def test_overlapping_groups_never_show_one_or_two_citizens_nor_leave_one_or_two_behind_those_shown(
    groups: dict[str, frozenset[str]],
) -> None:
    hidden = suppressed_overlapping(groups)
    shown = [members for name, members in groups.items() if name not in hidden]
    assert all(not 0 < len(members) < MIN_CITIZENS for members in shown)
    withheld = set().union(*(groups[name] for name in hidden))
    assert not 0 < len(withheld) < MIN_CITIZENS or not any(shown)


@given(st.dictionaries(st.sampled_from("abcde"), st.integers(0, 10)))
def test_for_disjoint_groups_the_overlapping_rule_is_the_counting_rule(counts: dict[str, int]) -> None:
    first = iter(range(1000))
    groups = {name: {next(first) for _ in range(count)} for name, count in counts.items()}
    assert suppressed_overlapping({k: {str(v) for v in vs} for k, vs in groups.items()}) == suppressed_groups(
        counts
    )
