"""Recomputing a participant's months from stored state, and reading them.

Every change (a status record, an enrolment or withdrawal, a cut-off, a terms version) recomputes the
months it can affect from everything stored, never by incrementing, so the order and repetition of
deliveries cannot change a fee.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import select

from libs.common.auth import Principal, Role
from libs.common.clock import as_utc, utcnow
from libs.common.contracts import MonthsRecalculatedV1, ProgrammeTerms, StatusCode
from libs.common.db import Database
from libs.common.errors import Forbidden, NotFound, ValidationFailed
from libs.common.events import CloudEvent, WrittenPayload, new_event
from libs.common.logging import get_correlation_id, get_logger
from libs.common.uow import UnitOfWork
from libs.rules.timeline import StatusRecord, resolve
from services.settlement.domain import Enrolment, Month, TermsVersion, compute_months, window_for
from services.settlement.domain.calculation import categories_under, month_figures, touched_indexes
from services.settlement.models import MonthRow, ParticipantRow, StatementLineRow, StatusRecordRow
from services.settlement.repository import FactsRepository, MonthRepository, TermsRepository

log = get_logger(__name__)


def to_record(row: StatusRecordRow) -> StatusRecord:
    return StatusRecord(
        row.record_id,
        StatusCode(row.code),
        row.valid_from,
        row.valid_to,
        row.recording_seq,
        as_utc(row.recorded_at),
    )


async def terms_versions(uow: UnitOfWork, programme_id: str) -> list[TermsVersion]:
    rows = await TermsRepository(uow.session).versions(programme_id)
    return [TermsVersion(r.version, r.effective_from, ProgrammeTerms.model_validate(r.terms)) for r in rows]


@dataclass(frozen=True)
class Facts:
    participant: ParticipantRow
    enrolment: Enrolment | None
    versions: list[TermsVersion]
    records: list[StatusRecord]
    cutoff: date | None


async def load_facts(uow: UnitOfWork, participant: ParticipantRow) -> Facts:
    cutoff, versions = await programme_facts(uow, participant.programme_id)
    enrolment = (
        Enrolment(participant.track, participant.enrolled_on, participant.withdrawn_on)
        if participant.enrolled_on is not None
        else None
    )
    rows = await FactsRepository(uow.session).records_of(participant.participant_id)
    return Facts(participant, enrolment, versions, [to_record(r) for r in rows], cutoff)


Touched = tuple[date, date | None] | None  # the validity a change reaches; None: every month

CHUNK = 500


@dataclass
class _Chunk:
    """What a chunk of participants' recompute produced, to be written with one statement each."""

    inserts: list[tuple[Any, ...]] = field(default_factory=list)  # MONTH_ROW order
    updates: list[tuple[Any, ...]] = field(default_factory=list)
    removals: list[tuple[str, str]] = field(default_factory=list)
    events: list[CloudEvent] = field(default_factory=list)
    changed: int = 0


def forget_programme_facts(uow: UnitOfWork, programme_id: str) -> None:
    """A cut-off or terms version of the programme was stored in this transaction: read them again
    (a batch holding a terms version and then a cut-off recomputed the programme with the old cut-off)."""
    uow.scratch.get("settlement.programme_facts", {}).pop(programme_id, None)


async def programme_facts(uow: UnitOfWork, programme_id: str) -> tuple[date | None, list[TermsVersion]]:
    """The programme's cut-off and terms, read once per transaction (a batch recomputes many participants
    of one programme; neither changes while it does)."""
    cache: dict[str, tuple[date | None, list[TermsVersion]]] = uow.scratch.setdefault(
        "settlement.programme_facts", {}
    )
    if programme_id not in cache:
        cutoff = await FactsRepository(uow.session).cutoff(programme_id)
        cache[programme_id] = (
            cutoff.complete_through if cutoff else None,
            await terms_versions(uow, programme_id),
        )
    return cache[programme_id]


async def _recompute_chunk(
    uow: UnitOfWork, touched: Sequence[tuple[str, Touched]], out: _Chunk, skip: Collection[str] = ()
) -> None:
    """Recompute a chunk of participants from stored state: their enrolments, records and stored months
    read with one query each (Core rows, not ORM objects), only the months a change touched computed,
    and what changed collected in ``out``."""
    facts = FactsRepository(uow.session)
    enrolments = {row[0]: row for row in await facts.enrolments([pid for pid, _ in touched])}
    plans: list[tuple[str, str, Enrolment | None, list[TermsVersion], date | None, range | None]] = []
    for participant_id, span in touched:
        found = enrolments.get(participant_id)
        if found is None:
            continue  # not known (yet): its enrolment recomputes it
        _, programme_id, track, enrolled_on, withdrawn_on = found
        if programme_id in skip:
            continue  # its whole programme is recomputed in this transaction anyway
        cutoff, versions = await programme_facts(uow, programme_id)
        enrolment = Enrolment(track, enrolled_on, withdrawn_on) if enrolled_on is not None else None
        only: range | None = None
        if span is not None and enrolment is not None:
            window = window_for(enrolment, versions)
            only = touched_indexes(span[0], span[1], window[0]) if window else None
        plans.append((participant_id, programme_id, enrolment, versions, cutoff, only))
    if not plans:
        return
    # Only the records and months the touched months need (the union over the chunk), unless some
    # participant needs all of theirs.
    ids = [plan[0] for plan in plans]
    spans_between: tuple[date, date] | None = None
    months_between: tuple[str, str] | None = None
    if all(plan[5] is not None for plan in plans):
        indexes = [index for plan in plans if plan[5] for index in (plan[5][0], plan[5][-1])]
        if not indexes:
            return  # every change lies outside its participant's window: nothing to recompute
        low, high = Month.from_index(min(indexes)), Month.from_index(max(indexes))
        spans_between = (low.first_day, high.last_day)
        months_between = (str(low), str(high))
    records = await facts.spans_of(ids, spans_between)
    stored_months = await MonthRepository(uow.session).figures_of(ids, months_between)
    now = utcnow()
    correlation_id = get_correlation_id()
    no_months: dict[str, tuple[Any, ...]] = {}
    for participant_id, programme_id, enrolment, versions, cutoff, only in plans:
        stored = stored_months.get(participant_id, no_months)
        figures = (
            month_figures(enrolment, versions, records.get(participant_id, []), cutoff, only)
            if enrolment is not None
            else []
        )
        changes: list[dict[str, Any]] = []
        for f in figures:
            values = (*f[1:], cutoff)
            before = stored.get(f.month)
            if before == values:
                continue
            row = (participant_id, f.month, programme_id, *f[1:7], f.rule.value, f[8], f[9], cutoff, now)
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
            out.events.append(months_recalculated(participant_id, programme_id, changes, now, correlation_id))


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
    correlation_id: str | None,
) -> CloudEvent:
    """The months.recalculated event, its data built as ``MonthsRecalculatedV1(...).model_dump(mode="json")``
    would build it (a unit test holds them equal), without a pydantic model per month."""
    return new_event(
        WrittenPayload(
            MonthsRecalculatedV1,
            {"participant_id": participant_id, "programme_id": programme_id, "changes": changes},
        ),
        subject=f"participant/{participant_id}",
        correlation_id=correlation_id,
        time=now,
    )


async def _write(uow: UnitOfWork, out: _Chunk, *, events_now: bool) -> None:
    months = MonthRepository(uow.session)
    await months.insert_many(out.inserts)
    await months.update_many(out.updates)
    await months.remove_many(out.removals)
    if events_now:
        # A whole programme: the announcements go to the outbox chunk by chunk (same transaction), so
        # a recompute of 100k citizens does not hold 100k events in memory until the commit.
        await uow.write_events(out.events)
    else:
        for event in out.events:
            uow.emit(event)
    out.inserts, out.updates, out.removals, out.events = [], [], [], []


async def recompute_participant(uow: UnitOfWork, participant_id: str, touched: Touched = None) -> int:
    """Recompute the participant's months (all, or those a record valid over ``touched`` reaches) and
    store what changed; returns the number of months that changed and announces them."""
    return await recompute_many(uow, [(participant_id, touched)])


async def recompute_many(
    uow: UnitOfWork,
    touched: Sequence[tuple[str, Touched]],
    release: bool = False,
    skip_programmes: Collection[str] = (),
) -> int:
    """Recompute participants (but none of ``skip_programmes``) in chunks, each chunk read with three
    queries and written with one statement per kind of change. With ``release`` (a whole programme),
    each chunk's announcements go to the outbox at once instead of being held until the commit."""
    changed = 0
    for start in range(0, len(touched), CHUNK):
        out = _Chunk()
        await _recompute_chunk(uow, touched[start : start + CHUNK], out, skip_programmes)
        changed += out.changed
        await _write(uow, out, events_now=release)
    return changed


async def recompute_programme(uow: UnitOfWork, programme_id: str) -> int:
    participants = await FactsRepository(uow.session).participant_ids_of(programme_id)
    return await recompute_many(
        uow, [(participant_id, None) for participant_id in participants], release=True
    )


async def months_of(uow: UnitOfWork, participant_id: str) -> Sequence[MonthRow]:
    stored = await MonthRepository(uow.session).of_participant(participant_id)
    return [stored[key] for key in sorted(stored)]


def refuse_aggregate_readers(principal: Principal) -> None:
    """The investor and the integrator read no person-level row: 403 before anything is looked up, so
    the answer does not tell them whether a participant id exists."""
    if principal.role in (Role.investor, Role.integrator):
        raise Forbidden("Person-level months are not available to this role.")


def require_person_level(principal: Principal, programme_id: str) -> None:
    refuse_aggregate_readers(principal)
    if not principal.can_access(programme_id):
        raise NotFound("No such participant.")


@dataclass(frozen=True)
class MonthsView:
    participant: ParticipantRow
    months: list[MonthRow]
    invoiced: dict[str, Decimal]


async def participant_months(database: Database, principal: Principal, participant_id: str) -> MonthsView:
    refuse_aggregate_readers(principal)
    async with UnitOfWork(database) as uow:
        participant = await FactsRepository(uow.session).participant(participant_id)
        if participant is None:
            raise NotFound("No such participant.")
        require_person_level(principal, participant.programme_id)
        rows = list(await months_of(uow, participant_id))
        lines = await uow.session.execute(
            select(StatementLineRow.month, StatementLineRow.amount_dkk).where(
                StatementLineRow.participant_id == participant_id
            )
        )
        # Summed as Decimals here: an SQL SUM over SQLite's text amounts would go through floats.
        invoiced: dict[str, Decimal] = {}
        for month, amount in lines.all():
            if month:
                invoiced[month] = invoiced.get(month, Decimal("0.00")) + amount
    return MonthsView(participant, rows, invoiced)


async def explain(
    database: Database, principal: Principal, participant_id: str, month_text: str
) -> dict[str, Any]:
    """Which records decided which days of the month, the cut-off and the rule: enough to check the fee
    by hand."""
    refuse_aggregate_readers(principal)
    try:
        month = Month.parse(month_text)
        month.first_day  # noqa: B018 - raises for a month number out of range
    except ValueError:
        raise ValidationFailed.for_field("month", "must be YYYY-MM") from None
    async with UnitOfWork(database) as uow:
        participant = await FactsRepository(uow.session).participant(participant_id)
        if participant is None:
            raise NotFound("No such participant.")
        require_person_level(principal, participant.programme_id)
        facts = await load_facts(uow, participant)
    found = window_for(facts.enrolment, facts.versions) if facts.enrolment else None
    if found is None or facts.enrolment is None:
        raise NotFound("The participant has no follow-up window (not enrolled, or no terms yet).")
    window, at_enrolment = found
    computed = compute_months(facts.enrolment, facts.versions, facts.records, facts.cutoff, {month})
    if not computed:
        raise NotFound(f"{month_text} is outside the participant's window ({window.start} to {window.end}).")
    item = computed[0]
    version = next(v for v in facts.versions if v.version == item.terms_version)
    by_id = {r.record_id: r for r in facts.records}
    first, last = max(month.first_day, window.start), min(month.last_day, window.end)
    periods = []
    for period in resolve(facts.records, categories_under(version), facts.cutoff, window.start):
        start, end = max(period.start, first), min(period.end or last, last)
        if start > end:
            continue
        record = by_id.get(period.record_id) if period.record_id else None
        periods.append(
            {
                "from": start,
                "to": end,
                "category": period.category.value,
                "code": period.code.value if period.code else None,
                "record_id": period.record_id,
                "recording_seq": record.recording_seq if record else None,
                "recorded_at": record.recorded_at if record else None,
            }
        )
    fee = item.fee
    if fee.provisional:
        calculation = (
            f"provisional: {fee.unknown_days} in-window day(s) after the cut-off are unknown; never invoiced"
        )
    elif fee.rule.value == "full_month":
        paid = fee.in_window_days if fee.self_supporting_days == fee.in_window_days else 0
        calculation = (
            f"full_month: {fee.fee_per_month_dkk} x {paid} / {month.days} = {fee.fee_dkk} "
            f"({'every in-window day self-supporting' if paid else 'a day of public support in the window'})"
        )
    else:
        calculation = f"pro_rata_days: {fee.fee_per_month_dkk} x {fee.self_supporting_days} / {month.days} = {fee.fee_dkk}"
    return {
        "participant_id": participant_id,
        "month": month_text,
        "window_start": window.start,
        "window_end": window.end,
        "cutoff_used": facts.cutoff,
        "terms_version": item.terms_version,
        "rule": fee.rule.value,
        "fee_per_month_dkk": fee.fee_per_month_dkk,
        "days_in_month": month.days,
        "in_window_days": fee.in_window_days,
        "self_supporting_days": fee.self_supporting_days,
        "public_support_days": fee.public_support_days,
        "unknown_days": fee.unknown_days,
        "provisional": fee.provisional,
        "fee_dkk": fee.fee_dkk,
        "calculation": calculation,
        "periods": periods,
        "window_terms_version": at_enrolment.version,
    }


async def dry_run(
    database: Database, principal: Principal, programme_id: str, records: list[tuple[int, str, StatusRecord]]
) -> list[dict[str, Any]]:
    """The months that would change if these records were posted now (after everything stored). Reads
    only: nothing is stored and nothing is announced."""
    refuse_aggregate_readers(principal)
    if not principal.can_access(programme_id):
        raise NotFound(f"No programme {programme_id}.")
    by_participant: dict[str, list[tuple[int, StatusRecord]]] = {}
    for index, participant_id, record in records:
        by_participant.setdefault(participant_id, []).append((index, record))
    changes: list[dict[str, Any]] = []
    async with UnitOfWork(database) as uow:
        repo = FactsRepository(uow.session)
        errors = []
        for participant_id, items in by_participant.items():
            participant = await repo.participant(participant_id)
            if participant is None or participant.programme_id != programme_id:
                errors += [
                    {
                        "field": f"records[{i}].participant_id",
                        "in": "body",
                        "message": "no such participant in the programme",
                    }
                    for i, _ in items
                ]
        if errors:
            raise ValidationFailed("; ".join(e["field"] for e in errors[:5]), errors=errors)
        for participant_id, items in by_participant.items():
            participant = await repo.participant(participant_id)
            assert participant is not None
            facts = await load_facts(uow, participant)
            if facts.enrolment is None:
                continue
            next_seq = max((r.recording_seq for r in facts.records), default=0)
            added = [
                StatusRecord(f"dry-run-{i}", r.code, r.valid_from, r.valid_to, next_seq + n, utcnow())
                for n, (i, r) in enumerate(items, start=1)
            ]
            stored = await MonthRepository(uow.session).of_participant(participant_id)
            for item in compute_months(
                facts.enrolment, facts.versions, [*facts.records, *added], facts.cutoff
            ):
                key = str(item.fee.month)
                current = stored.get(key)
                if (
                    current is None
                    or Decimal(current.fee_dkk) != item.fee.fee_dkk
                    or current.provisional != item.fee.provisional
                ):
                    changes.append(
                        {
                            "participant_id": participant_id,
                            "month": key,
                            "current_fee_dkk": Decimal(current.fee_dkk).quantize(Decimal("0.01"))
                            if current
                            else None,
                            "new_fee_dkk": item.fee.fee_dkk,
                            "current_provisional": current.provisional if current else None,
                            "new_provisional": item.fee.provisional,
                        }
                    )
    return changes
