"""The status timeline rules (DOMAIN.md "The status timeline"), checked against a day-by-day oracle."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from itertools import pairwise

from hypothesis import given, settings
from hypothesis import strategies as st

from libs.common.contracts import STATUS_CODES, StatusCategory, StatusCode
from services.progression.domain import (
    Cutoff,
    DayCategory,
    Period,
    StatusRecord,
    cutoff_as_of,
    day_category,
    iso_week_range,
    known_as_of,
    resolve,
)

DEFAULTS = {code: category for code, (_, category) in STATUS_CODES.items()}
START = date(2024, 1, 1)
T0 = datetime(2024, 1, 1, tzinfo=UTC)


@st.composite
def records(draw: st.DrawFn, max_size: int = 8) -> list[StatusRecord]:
    count = draw(st.integers(0, max_size))
    made = []
    for seq in range(1, count + 1):
        valid_from = START + timedelta(days=draw(st.integers(-20, 120)))
        length = draw(st.one_of(st.none(), st.integers(0, 60)))
        made.append(
            StatusRecord(
                record_id=f"r{seq}",
                code=draw(st.sampled_from(list(StatusCode))),
                valid_from=valid_from,
                valid_to=None if length is None else valid_from + timedelta(days=length),
                recording_seq=seq,
                recorded_at=T0 + timedelta(hours=seq),
            )
        )
    return made


cutoffs = st.one_of(st.none(), st.integers(-10, 150).map(lambda d: START + timedelta(days=d)))


def oracle(day: date, recs: list[StatusRecord], cutoff: date | None) -> tuple[DayCategory, str | None]:
    covering = [r for r in recs if r.valid_from <= day and (r.valid_to is None or day <= r.valid_to)]
    if covering:
        winner = max(covering, key=lambda r: r.recording_seq)
        return DayCategory(DEFAULTS[winner.code].value), winner.record_id
    if cutoff is not None and day <= cutoff:
        return DayCategory.self_supporting, None
    return DayCategory.unknown, None


def record_on(periods: list[Period], day: date) -> str | None:
    for p in periods:
        if p.start <= day and (p.end is None or day <= p.end):
            return p.record_id
    raise AssertionError("day not covered")


@given(records(), cutoffs)
@settings(max_examples=300)
def test_every_day_is_decided_by_the_last_recorded_covering_record_or_the_cutoff(
    recs: list[StatusRecord], cutoff: date | None
) -> None:
    periods = resolve(recs, DEFAULTS, cutoff, START)
    for offset in range(0, 200):
        day = START + timedelta(days=offset)
        category, record_id = oracle(day, recs, cutoff)
        assert day_category(periods, day) == category, day
        assert record_on(periods, day) == record_id, day


@given(records(), cutoffs)
def test_periods_are_contiguous_merged_and_end_open(recs: list[StatusRecord], cutoff: date | None) -> None:
    periods = resolve(recs, DEFAULTS, cutoff, START)
    assert periods[0].start == START
    assert periods[-1].end is None
    for before, after in pairwise(periods):
        assert before.end is not None and after.start == before.end + timedelta(days=1)
        assert (before.category, before.code, before.record_id) != (
            after.category,
            after.code,
            after.record_id,
        )


@given(records(), cutoffs, st.randoms(use_true_random=False))
def test_the_timeline_depends_only_on_the_records_and_their_recording_order(
    recs: list[StatusRecord], cutoff: date | None, rnd: object
) -> None:
    shuffled = list(recs)
    rnd.shuffle(shuffled)  # type: ignore[attr-defined]
    # The wall-clock of recording does not matter either, only the order.
    retimed = [
        StatusRecord(
            r.record_id,
            r.code,
            r.valid_from,
            r.valid_to,
            r.recording_seq,
            T0 + timedelta(days=r.recording_seq),
        )
        for r in shuffled
    ]
    assert resolve(shuffled, DEFAULTS, cutoff, START) == resolve(recs, DEFAULTS, cutoff, START)
    assert resolve(retimed, DEFAULTS, cutoff, START) == resolve(recs, DEFAULTS, cutoff, START)


@given(records(max_size=10), st.lists(st.integers(0, 150), max_size=10))
def test_as_of_reproduces_every_earlier_view(recs: list[StatusRecord], cutoff_days: list[int]) -> None:
    # Records and cut-off moves arrive one by one over time; remember what the timeline was after each.
    history: list[Cutoff] = []
    views: list[tuple[datetime, list[Period]]] = []
    cutoff_moves = iter(sorted(cutoff_days))
    for record in recs:
        next_move = next(cutoff_moves, None)
        if next_move is not None:
            history.append(Cutoff(START + timedelta(days=next_move), record.recorded_at))
        known = [r for r in recs if r.recording_seq <= record.recording_seq]
        views.append((record.recorded_at, resolve(known, DEFAULTS, cutoff_as_of(history, None), START)))
    for moment, view in views:
        again = resolve(known_as_of(recs, moment), DEFAULTS, cutoff_as_of(history, moment), START)
        assert again == view


def test_a_correction_recorded_later_wins_only_where_it_covers() -> None:
    sick = StatusRecord("a", StatusCode.sygedagpenge, date(2024, 3, 1), date(2024, 3, 31), 1, T0)
    correction = StatusRecord(
        "b", StatusCode.employed, date(2024, 3, 11), date(2024, 3, 20), 2, T0 + timedelta(days=40)
    )
    periods = resolve([sick, correction], DEFAULTS, date(2024, 4, 30), date(2024, 3, 1))
    assert [(p.start.day, p.end, p.record_id, p.category.value) for p in periods] == [
        (1, date(2024, 3, 10), "a", "public_support"),
        (11, date(2024, 3, 20), "b", "self_supporting"),
        (21, date(2024, 3, 31), "a", "public_support"),
        (1, date(2024, 4, 30), None, "self_supporting"),
        (1, None, None, "unknown"),
    ]
    before_correction = resolve(
        known_as_of([sick, correction], T0 + timedelta(days=1)), DEFAULTS, None, date(2024, 3, 1)
    )
    assert [p.record_id for p in before_correction] == ["a", None]


def test_a_programme_remapping_changes_the_category_not_the_record() -> None:
    leave = StatusRecord("m", StatusCode.barselsdagpenge, date(2024, 3, 1), None, 1, T0)
    remapped = DEFAULTS | {StatusCode.barselsdagpenge: StatusCategory.self_supporting}
    assert resolve([leave], DEFAULTS, None, date(2024, 3, 1))[0].category is DayCategory.public_support
    assert resolve([leave], remapped, None, date(2024, 3, 1))[0].category is DayCategory.self_supporting


def test_the_cutoff_only_moves_forward_in_effect() -> None:
    history = [Cutoff(date(2024, 3, 31), T0), Cutoff(date(2024, 4, 30), T0 + timedelta(days=30))]
    assert cutoff_as_of(history, None) == date(2024, 4, 30)
    assert cutoff_as_of(history, T0 + timedelta(days=1)) == date(2024, 3, 31)
    assert cutoff_as_of(history, T0 - timedelta(seconds=1)) is None


def test_a_retraction_takes_the_cutoff_back_and_an_earlier_read_still_sees_the_mistake() -> None:
    mistake = T0 + timedelta(days=30)
    retraction = T0 + timedelta(days=32)
    history = [
        Cutoff(date(2024, 3, 31), T0),
        Cutoff(date(2024, 9, 30), mistake),  # a typo: six months too far
        Cutoff(date(2024, 3, 31), retraction),  # taken back to the date it had
    ]
    assert cutoff_as_of(history, None) == date(2024, 3, 31)
    assert cutoff_as_of(history, mistake + timedelta(hours=1)) == date(2024, 9, 30)
    assert cutoff_as_of(history, retraction) == date(2024, 3, 31)


@st.composite
def anywhere_records(draw: st.DrawFn) -> list[StatusRecord]:
    """Records whose dates lie anywhere a ``date`` can hold, the ends included."""
    days = st.one_of(st.dates(), st.sampled_from([date.min, date.max, date(9999, 12, 30)]))
    made = []
    for seq in range(1, draw(st.integers(0, 6)) + 1):
        first, second = sorted((draw(days), draw(days)))
        made.append(
            StatusRecord(
                f"r{seq}",
                draw(st.sampled_from(list(StatusCode))),
                first,
                draw(st.one_of(st.none(), st.just(second))),
                seq,
                T0 + timedelta(hours=seq),
            )
        )
    return made


@given(
    anywhere_records(),
    st.one_of(st.none(), st.dates(), st.just(date.max)),
    st.one_of(st.dates(), st.just(date.min), st.just(date.max)),
)
@settings(max_examples=400)
def test_no_date_a_record_or_cutoff_can_hold_overflows_the_timeline(
    recs: list[StatusRecord], cutoff: date | None, start: date
) -> None:
    periods = resolve(recs, DEFAULTS, cutoff, start)
    assert periods[0].start == start
    assert periods[-1].end is None or periods[-1].end == date.max
    for before, after in pairwise(periods):
        assert before.end is not None and after.start == before.end + timedelta(days=1)
    for day in {start, *(r.valid_from for r in recs), *(r.valid_to for r in recs if r.valid_to)}:
        if day >= start:
            assert day_category(periods, day) == oracle(day, recs, cutoff)[0], day


def test_iso_weeks_run_monday_to_sunday() -> None:
    assert iso_week_range("2024-W07") == (date(2024, 2, 12), date(2024, 2, 18))
    assert iso_week_range("2020-W53") == (date(2020, 12, 28), date(2021, 1, 3))
    assert iso_week_range("2025-W01") == (date(2024, 12, 30), date(2025, 1, 5))
