"""Recomputing participants' months from stored state (their reads: ``month_reads.py``).

Every change (a status record, an enrolment or withdrawal, a cut-off, a terms version) recomputes the
months it can affect from everything stored, never by incrementing, so the order and repetition of
deliveries cannot change a fee.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any, NamedTuple

from libs.common.clock import utcnow
from libs.common.contracts import MonthsRecalculatedV1
from libs.common.events import CloudEvent, WrittenPayload, new_event
from libs.common.logging import get_logger
from libs.common.tracing import SpanContext, current_trace
from libs.common.uow import UnitOfWork
from services.settlement.domain import Enrolment, Month, TermsVersion, Validity, window_for
from services.settlement.domain.calculation import month_figures, stored_values_of, touched_indexes
from services.settlement.repository import FactsRepository, MonthRepository
from services.settlement.repository.months import StoredFigures
from services.settlement.services.programme_facts import ProgrammeFactsCache

log = get_logger(__name__)


CHUNK = 500


@dataclass
class _Chunk:
    """What a chunk of participants' recompute produced, to be written with one statement each."""

    inserts: list[tuple[Any, ...]] = field(default_factory=list)  # MONTH_ROW order
    updates: list[tuple[Any, ...]] = field(default_factory=list)
    removals: list[tuple[str, str]] = field(default_factory=list)
    events: list[CloudEvent] = field(default_factory=list)
    changed: int = 0


class _Plan(NamedTuple):
    """A participant of the chunk to recompute, with what its months are computed from."""

    participant_id: str
    programme_id: str
    enrolment: Enrolment | None
    versions: list[TermsVersion]
    cutoff: date | None
    only: range | None  # the indexes of the months a change touched; None: every month


async def _recompute_chunk(
    uow: UnitOfWork,
    touched: Sequence[tuple[str, Validity | None]],
    out: _Chunk,
    programme_facts: ProgrammeFactsCache,
    skip: Collection[str] = (),
    causes: Mapping[str, SpanContext] | None = None,
    cause: SpanContext | None = None,
) -> None:
    """Recompute a chunk of participants from stored state: their enrolments, records and stored months
    read with one query each (Core rows, not ORM objects), only the months a change touched computed,
    and what changed collected in ``out``, each participant's announcement in the trace of what caused
    it (``causes``, by participant; else ``cause``; else the current span's)."""
    facts = FactsRepository(uow.session)
    enrolments = {row[0]: row for row in await facts.enrolments([pid for pid, _ in touched])}
    plans: list[_Plan] = []
    for participant_id, validity in touched:
        found = enrolments.get(participant_id)
        if found is None:
            continue  # not known (yet): its enrolment recomputes it
        _, programme_id, track, enrolled_on, withdrawn_on = found
        if programme_id in skip:
            continue  # its whole programme is recomputed in this transaction anyway
        cutoff, versions = await programme_facts.get(uow, programme_id)
        enrolment = Enrolment(track, enrolled_on, withdrawn_on) if enrolled_on is not None else None
        only: range | None = None
        if validity is not None and enrolment is not None:
            window = window_for(enrolment, versions)
            only = touched_indexes(validity.valid_from, validity.valid_to, window[0]) if window else None
        plans.append(_Plan(participant_id, programme_id, enrolment, versions, cutoff, only))
    if not plans:
        return
    # Only the records and months the touched months need (the union over the chunk), unless some
    # participant needs all of theirs.
    ids = [plan.participant_id for plan in plans]
    days_between: tuple[date, date] | None = None
    months_between: tuple[str, str] | None = None
    if all(plan.only is not None for plan in plans):
        indexes = [index for plan in plans if plan.only for index in (plan.only[0], plan.only[-1])]
        if not indexes:
            return  # every change lies outside its participant's window: nothing to recompute
        low, high = Month.from_index(min(indexes)), Month.from_index(max(indexes))
        days_between = (low.first_day, high.last_day)
        months_between = (str(low), str(high))
    records = await facts.statuses_of(ids, days_between)
    stored_months = await MonthRepository(uow.session).figures_of(ids, months_between)
    now = utcnow()
    trace = cause or current_trace()
    causes = causes or {}
    no_months: dict[str, StoredFigures] = {}
    for participant_id, programme_id, enrolment, versions, cutoff, only in plans:
        stored = stored_months.get(participant_id, no_months)
        figures = (
            month_figures(enrolment, versions, records.get(participant_id, []), cutoff, only)
            if enrolment is not None
            else []
        )
        changes: list[dict[str, Any]] = []
        for f in figures:
            before = stored.get(f.month)
            if before is not None and before == (*stored_values_of(f), cutoff):
                continue
            row = (  # MONTH_ROW order
                participant_id,
                f.month,
                programme_id,
                f.in_window_days,
                f.self_supporting_days,
                f.public_support_days,
                f.unknown_days,
                f.provisional,
                f.fee_dkk,
                f.rule.value,
                f.fee_per_month_dkk,
                f.terms_version,
                cutoff,
                now,
            )
            (out.inserts if before is None else out.updates).append(row)
            changes.append(
                {
                    "month": f.month,
                    "old_fee_dkk": None if before is None else str(before[5]),
                    "new_fee_dkk": str(f.fee_dkk),
                    "provisional": f.provisional,
                }
            )
        # Months that left the window (a withdrawal, say) earn nothing any more.
        computed = {f.month for f in figures}
        for key in sorted(stored):
            if key not in computed and (only is None or _index_of(key) in only):
                out.removals.append((participant_id, key))
                changes.append(
                    {
                        "month": key,
                        "old_fee_dkk": str(stored[key][5]),
                        "new_fee_dkk": None,
                        "provisional": False,
                    }
                )
        if changes:
            out.changed += len(changes)
            changes.sort(key=_by_month)
            cause = causes.get(participant_id, trace)
            out.events.append(months_recalculated(participant_id, programme_id, changes, now, cause))


def _index_of(key: str) -> int:
    """``YYYY-MM`` -> the month's index (``Month.index``)."""
    return int(key[:4]) * 12 + int(key[5:7]) - 1


def _by_month(change: dict[str, Any]) -> str:
    return str(change["month"])


def months_recalculated(
    participant_id: str,
    programme_id: str,
    changes: list[dict[str, Any]],
    now: datetime,
    trace: SpanContext | None,
) -> CloudEvent:
    """The months.recalculated event, its data built as ``MonthsRecalculatedV1(...).model_dump(mode="json")``
    would build it (a unit test holds them equal), without a pydantic model per month."""
    return new_event(
        WrittenPayload(
            MonthsRecalculatedV1,
            {"participant_id": participant_id, "programme_id": programme_id, "changes": changes},
        ),
        subject=f"participant/{participant_id}",
        trace=trace,
        time=now,
    )


async def _write_chunk(uow: UnitOfWork, out: _Chunk, *, events_now: bool) -> None:
    months = MonthRepository(uow.session)
    await months.insert_many(out.inserts)
    await months.update_many(out.updates)
    await months.remove_many(out.removals)
    if events_now:
        # A whole programme: the announcements go to the outbox chunk by chunk (same transaction), so
        # memory does not grow with the programme until the commit.
        await uow.write_events(out.events)
    else:
        for event in out.events:
            uow.emit(event)
    out.inserts, out.updates, out.removals, out.events = [], [], [], []


async def recompute_many(
    uow: UnitOfWork,
    touched: Sequence[tuple[str, Validity | None]],
    release: bool = False,
    skip_programmes: Collection[str] = (),
    programme_facts: ProgrammeFactsCache | None = None,
    causes: Mapping[str, SpanContext] | None = None,
    cause: SpanContext | None = None,
) -> int:
    """Recompute participants (the months over each one's validity, or all of them for None; none of
    ``skip_programmes``) in chunks, each chunk read with three queries and written with one statement
    per kind of change. With ``release`` (a whole programme), each chunk's announcements go to the
    outbox at once instead of being held until the commit. ``programme_facts``: the transaction's
    programme terms and cut-offs, when it has read them already. ``causes``: by participant, the span
    context of the event that touched it, whose trace its announcement continues (else ``cause``'s,
    else the current span's)."""
    programme_facts = programme_facts or ProgrammeFactsCache()
    changed = 0
    for start in range(0, len(touched), CHUNK):
        out = _Chunk()
        await _recompute_chunk(
            uow, touched[start : start + CHUNK], out, programme_facts, skip_programmes, causes, cause
        )
        changed += out.changed
        await _write_chunk(uow, out, events_now=release)
    return changed


async def recompute_programme(
    uow: UnitOfWork,
    programme_id: str,
    programme_facts: ProgrammeFactsCache | None = None,
    cause: SpanContext | None = None,
) -> int:
    """Recompute every month of every participant of the programme (announced in the trace of
    ``cause``, the span context of what caused it; else the current span's)."""
    participants = await FactsRepository(uow.session).participant_ids_of(programme_id)
    return await recompute_many(
        uow,
        [(participant_id, None) for participant_id in participants],
        release=True,
        programme_facts=programme_facts,
        cause=cause,
    )
