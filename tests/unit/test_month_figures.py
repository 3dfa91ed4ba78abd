"""The fast month computation (one painted byte per day of the window, counted per month) gives exactly
what the day-by-day computation over ``resolve``'s periods gave: same months, day counts, fees (Decimal,
rounded half-up once per month), rule, terms version. The day-by-day version is kept here as the oracle."""

from __future__ import annotations

import calendar
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal

from dateutil.relativedelta import relativedelta
from hypothesis import given, settings
from hypothesis import strategies as st

from libs.common.contracts import (
    MonthChange,
    MonthRule,
    MonthsRecalculatedV1,
    ProgrammeTerms,
    StatusCategory,
    StatusCode,
)
from libs.common.events import CloudEvent, new_event, parse_payload
from libs.common.tracing import SpanContext
from libs.rules.timeline import DayCategory, StatusRecord, resolve
from services.settlement.domain import (
    Enrolment,
    Month,
    TermsVersion,
    compute_months,
    months_of,
)
from services.settlement.domain.calculation import (
    RecordedStatus,
    categories_under,
    day_lookup,
    month_figures,
    touched_indexes,
    window_for,
)
from services.settlement.domain.months import Window, share_of
from services.settlement.domain.terms import terms_in_force
from services.settlement.services.months import months_recalculated

T0 = datetime(2024, 1, 1, tzinfo=UTC)
START = date(2024, 1, 1)


def months_touched(valid_from: date, valid_to: date | None, window: Window) -> set[Month]:
    """Oracle (moved here from the domain, which no longer needs it): the months of the window a
    record's validity reaches (an open end reaches the window's end), as ``Month`` objects; the service
    computes their indexes with ``touched_indexes``."""
    start, end = max(valid_from, window.start), min(valid_to or window.end, window.end)
    return set(months_of(Window(start, end))) if start <= end else set()


def reference_months(
    enrolment: Enrolment,
    versions: list[TermsVersion],
    records: list[StatusRecord],
    cutoff: date | None,
    only: set[Month] | None = None,
) -> list[tuple[object, ...]]:
    """compute_months as it was before the rewrite: resolve per terms version, then every day of every
    month looked up one at a time, months stepped with relativedelta, the fee computed per month."""
    found = window_for(enrolment, versions)
    if found is None:
        return []
    window, at_enrolment = found
    lookups: dict[int, Callable[[date], DayCategory]] = {}
    out: list[tuple[object, ...]] = []
    if window.end < window.start:
        return out
    month = Month(window.start.year, window.start.month)
    while month.first_day <= window.end:
        if only is None or month in only:
            first_day = max(month.first_day, window.start)
            version = terms_in_force(versions, first_day) or at_enrolment
            if version.version not in lookups:
                lookups[version.version] = day_lookup(
                    resolve(records, categories_under(version), cutoff, window.start)
                )
            counts = dict.fromkeys(DayCategory, 0)
            day, last = first_day, min(month.last_day, window.end)
            while day <= last:
                counts[lookups[version.version](day)] += 1
                day += timedelta(days=1)
            in_window = sum(counts.values())
            self_supporting = counts[DayCategory.self_supporting]
            rule = version.terms.month_rule
            if counts[DayCategory.unknown]:
                earning = 0 if rule is MonthRule.full_month else self_supporting
            elif rule is MonthRule.full_month:
                earning = in_window if self_supporting == in_window else 0
            else:
                earning = self_supporting
            fee_per_month = version.terms.fee_for_track(enrolment.track)
            days_in_month = calendar.monthrange(month.year, month.month)[1]
            fee = (fee_per_month * earning / days_in_month).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)
            out.append(
                (
                    str(month),
                    in_window,
                    self_supporting,
                    counts[DayCategory.public_support],
                    counts[DayCategory.unknown],
                    counts[DayCategory.unknown] > 0,
                    fee,
                    rule,
                    fee_per_month,
                    version.version,
                    cutoff,
                )
            )
        month = Month.of(month.first_day + relativedelta(months=1))
    return out


def as_tuples(enrolment: Enrolment, versions: list[TermsVersion], records: list[StatusRecord], cutoff: date | None, only: set[Month] | None = None) -> list[tuple[object, ...]]:  # fmt: skip
    return [
        (
            str(m.fee.month),
            m.fee.in_window_days,
            m.fee.self_supporting_days,
            m.fee.public_support_days,
            m.fee.unknown_days,
            m.fee.provisional,
            m.fee.fee_dkk,
            m.fee.rule,
            m.fee.fee_per_month_dkk,
            m.terms_version,
            m.cutoff_used,
        )
        for m in compute_months(enrolment, versions, records, cutoff, only)
    ]


@st.composite
def histories(draw: st.DrawFn) -> list[StatusRecord]:
    count = draw(st.integers(0, 12))
    # Mostly unique recording_seq (as progression assigns them); sometimes ties, which resolve breaks
    # by the earliest valid_from.
    seqs = draw(st.one_of(st.permutations(list(range(1, count + 1))), st.lists(st.integers(1, 4), min_size=count, max_size=count)))  # fmt: skip
    made = []
    for n, seq in enumerate(seqs):
        valid_from = START + timedelta(days=draw(st.integers(-60, 900)))
        length = draw(st.one_of(st.none(), st.integers(0, 200)))
        made.append(
            StatusRecord(
                f"r{n}",
                draw(st.sampled_from(list(StatusCode))),
                valid_from,
                None if length is None else valid_from + timedelta(days=length),
                seq,
                T0 + timedelta(hours=n),
            )
        )
    return made


def terms(**changes: object) -> ProgrammeTerms:
    base: dict[str, object] = {
        "tracks": {"sygedagpenge": 120},
        "fee_per_month_dkk": "3500",
        "total_cap_dkk": "5600000",
        "split": {"investor_percent": "60", "provider_percent": "40"},
    }
    return ProgrammeTerms.model_validate(base | changes)


version_lists = st.lists(
    st.builds(
        lambda n, effective, months, fee, rule, remap: (n, effective, months, fee, rule, remap),
        st.integers(1, 5),
        st.dates(date(2023, 6, 1), date(2026, 6, 1)),
        st.integers(1, 30),
        st.decimals(min_value=0, max_value=9999, places=2),
        st.sampled_from(list(MonthRule)),
        st.booleans(),
    ),
    min_size=0,
    max_size=3,
    unique_by=lambda v: v[0],
).map(
    lambda items: [
        TermsVersion(
            n,
            effective,
            terms(
                follow_up_months=months,
                fee_per_month_dkk=str(fee),
                month_rule=rule.value,
                status_categories={"barselsdagpenge": StatusCategory.self_supporting.value} if remap else {},
            ),
        )
        for n, effective, months, fee, rule, remap in items
    ]
)


@given(
    histories(),
    version_lists,
    st.dates(date(2023, 11, 1), date(2025, 3, 31)),
    st.one_of(st.none(), st.dates(date(2023, 10, 1), date(2027, 6, 30))),
    st.one_of(st.none(), st.dates(date(2023, 12, 1), date(2027, 6, 30))),
    st.one_of(st.none(), st.sets(st.integers(0, 40).map(lambda n: Month(2023, 11).plus(n)), max_size=6)),
)
@settings(max_examples=250, deadline=None)
def test_month_figures_equal_the_day_by_day_computation(
    records: list[StatusRecord],
    versions: list[TermsVersion],
    enrolled: date,
    withdrawn: date | None,
    cutoff: date | None,
    only: set[Month] | None,
) -> None:
    enrolment = Enrolment("sygedagpenge", enrolled, withdrawn)
    assert as_tuples(enrolment, versions, records, cutoff, only) == reference_months(
        enrolment, versions, records, cutoff, only
    )


@given(
    histories(),
    st.dates(date(2023, 11, 1), date(2025, 3, 31)),
    st.one_of(st.none(), st.dates(date(2023, 10, 1), date(2027, 6, 30))),
    st.dates(date(2023, 10, 1), date(2026, 6, 30)),
    st.one_of(st.none(), st.integers(0, 120)),
)
@settings(max_examples=150, deadline=None)
def test_a_recompute_of_the_touched_months_needs_only_the_records_covering_them(
    records: list[StatusRecord], enrolled: date, cutoff: date | None, valid_from: date, length: int | None
) -> None:
    """The service reads only the records overlapping the touched months; that gives the same months."""
    versions = [TermsVersion(1, date(2022, 1, 1), terms())]
    enrolment = Enrolment("sygedagpenge", enrolled, None)
    found = window_for(enrolment, versions)
    assert found is not None
    window = found[0]
    valid_to = None if length is None else valid_from + timedelta(days=length)
    touched = touched_indexes(valid_from, valid_to, window)
    assert {m.index for m in months_touched(valid_from, valid_to, window)} == set(touched)
    spans = [RecordedStatus(r.code.value, r.valid_from, r.valid_to, r.recording_seq) for r in records]
    if touched:
        low, high = Month.from_index(touched[0]).first_day, Month.from_index(touched[-1]).last_day
        spans_needed = [
            s for s in spans if s.valid_from <= high and (s.valid_to is None or s.valid_to >= low)
        ]
    else:
        spans_needed = []
    assert month_figures(enrolment, versions, spans_needed, cutoff, touched) == month_figures(
        enrolment, versions, spans, cutoff, touched
    )


@given(st.dates(date(2020, 1, 1), date(2030, 12, 31)), st.dates(date(2020, 1, 1), date(2030, 12, 31)))
def test_months_by_index_step_like_relativedelta(start: date, end: date) -> None:
    window = Window(start, end)
    expected = []
    month = Month.of(start)
    while start <= end and month.first_day <= end:
        expected.append(month)
        month = Month.of(month.first_day + relativedelta(months=1))
    assert list(months_of(window)) == expected
    assert Month.of(start).plus(-3) == Month.of(start.replace(day=1) - relativedelta(months=3))


def test_the_cached_share_rounds_half_up_once() -> None:
    assert share_of(Decimal("0.05"), 15, 30) == Decimal("0.03")  # 0.025 -> 0.03
    assert share_of(Decimal("3500"), 15, 31) == Decimal("1693.55")  # 1693.548... -> 1693.55
    assert share_of(Decimal("3500.00"), 15, 31) == Decimal("1693.55")


def test_the_months_recalculated_data_is_what_the_contract_dumps() -> None:
    """The recompute builds the event's data without a pydantic model per month; it must be exactly
    what MonthsRecalculatedV1(...).model_dump(mode="json") gives, and parse back to the same payload."""
    fees = [(Decimal("3500.00"), None), (None, Decimal("1693.55")), (Decimal("0.00"), Decimal("12.30"))]
    changes = [
        {
            "month": f"2024-0{n + 1}",
            "old_fee_dkk": None if old is None else str(old),
            "new_fee_dkk": None if new is None else str(new),
            "provisional": n == 2,
        }
        for n, (old, new) in enumerate(fees)
    ]
    now = datetime(2026, 12, 1, tzinfo=UTC)
    cause = SpanContext(0x4BF92F3577B34DA6A3CE929D0E0E4736, 0x00F067AA0BA902B7, is_remote=False)
    event = months_recalculated("p-1", "prog-1", changes, now, cause)
    payload = MonthsRecalculatedV1(
        participant_id="p-1",
        programme_id="prog-1",
        changes=[
            MonthChange(month=f"2024-0{n + 1}", old_fee_dkk=old, new_fee_dkk=new, provisional=n == 2)
            for n, (old, new) in enumerate(fees)
        ],
    )
    reference = new_event(payload, subject="participant/p-1", trace=cause, time=now)
    assert event.data == reference.data
    assert parse_payload(event) == payload
    again = CloudEvent.from_json_bytes(event.to_json_bytes())  # what the outbox carries
    assert again.data == reference.data and again.id == event.id and again.time == now
    assert (event.source, event.type, event.subject, event.traceparent, event.time) == (
        reference.source,
        reference.type,
        reference.subject,
        "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00",
        reference.time,
    )
    assert event.correlationid == reference.correlationid == "4bf92f3577b34da6a3ce929d0e0e4736"
