"""Recomputing a participant's months from stored state, and reading them.

Every change (a status record, an enrolment or withdrawal, a cut-off, a terms version) recomputes the
months it can affect from everything stored, never by incrementing, so the order and repetition of
deliveries cannot change a fee.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any

from sqlalchemy import insert, select

from libs.common.auth import Principal, Role
from libs.common.clock import as_utc, utcnow
from libs.common.contracts import MonthChange, MonthsRecalculatedV1, ProgrammeTerms, StatusCode
from libs.common.db import Database
from libs.common.errors import Forbidden, NotFound, ValidationFailed
from libs.common.events import new_event
from libs.common.logging import get_logger
from libs.common.uow import UnitOfWork
from libs.rules.timeline import StatusRecord, resolve
from services.settlement.domain import (
    Enrolment,
    Month,
    TermsVersion,
    compute_months,
    months_touched,
    window_for,
)
from services.settlement.domain.calculation import categories_under
from services.settlement.models import CutoffRow, MonthRow, ParticipantRow, StatementLineRow, StatusRecordRow
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
    facts = FactsRepository(uow.session)
    # The programme's cut-off and terms, read once per transaction (a batch recomputes many participants
    # of one programme; neither changes while it does).
    cache: dict[str, tuple[CutoffRow | None, list[TermsVersion]]] = uow.scratch.setdefault(
        "settlement.programme_facts", {}
    )
    if participant.programme_id not in cache:
        cache[participant.programme_id] = (
            await facts.cutoff(participant.programme_id),
            await terms_versions(uow, participant.programme_id),
        )
    cutoff, versions = cache[participant.programme_id]
    enrolment = (
        Enrolment(participant.track, participant.enrolled_on, participant.withdrawn_on)
        if participant.enrolled_on is not None
        else None
    )
    preloaded = uow.scratch.get(PRELOADED)
    rows = (
        preloaded.records.pop(participant.participant_id, [])
        if preloaded is not None and participant.participant_id in preloaded.participants
        else await facts.records_of(participant.participant_id)
    )
    return Facts(
        participant,
        enrolment,
        versions,
        [to_record(r) for r in rows],
        cutoff.complete_through if cutoff else None,
    )


async def recompute_participant(
    uow: UnitOfWork, participant_id: str, touched: tuple[date, date | None] | None = None
) -> int:
    """Recompute the participant's months (all, or those a record valid over ``touched`` reaches) and
    store what changed; returns the number of months that changed and announces them."""
    participant = await FactsRepository(uow.session).participant(participant_id)
    if participant is None:
        return 0
    facts = await load_facts(uow, participant)
    only: set[Month] | None = None
    if touched is not None and facts.enrolment is not None:
        found = window_for(facts.enrolment, facts.versions)
        only = months_touched(touched[0], touched[1], found[0]) if found else None
    computed = (
        compute_months(facts.enrolment, facts.versions, facts.records, facts.cutoff, only)
        if facts.enrolment
        else []
    )
    months = MonthRepository(uow.session)
    preloaded = uow.scratch.get(PRELOADED)
    stored = (
        preloaded.months.pop(participant_id, {})
        if preloaded is not None and participant_id in preloaded.participants
        else await months.of_participant(participant_id)
    )
    now = utcnow()
    changes: list[MonthChange] = []
    seen: set[str] = set()
    new_rows: list[dict[str, Any]] = uow.scratch.setdefault(NEW_MONTHS, [])
    for item in computed:
        key = str(item.fee.month)
        seen.add(key)
        row = stored.get(key)
        values = {
            "in_window_days": item.fee.in_window_days,
            "self_supporting_days": item.fee.self_supporting_days,
            "public_support_days": item.fee.public_support_days,
            "unknown_days": item.fee.unknown_days,
            "provisional": item.fee.provisional,
            "fee_dkk": item.fee.fee_dkk,
            "rule": item.fee.rule.value,
            "fee_per_month_dkk": item.fee.fee_per_month_dkk,
            "terms_version": item.terms_version,
            "cutoff_used": item.cutoff_used,
        }
        if row is None:
            # New months are written in bulk (Core executemany) at the end of the chunk: no ORM object.
            new_rows.append(
                {
                    "participant_id": participant_id,
                    "month": key,
                    "programme_id": participant.programme_id,
                    "computed_at": now,
                    **values,
                }
            )
            changes.append(
                MonthChange(
                    month=key,
                    old_fee_dkk=None,
                    new_fee_dkk=item.fee.fee_dkk,
                    provisional=item.fee.provisional,
                )
            )
        elif any(getattr(row, name) != value for name, value in values.items()):
            old_fee = row.fee_dkk
            for name, value in values.items():
                setattr(row, name, value)
            row.computed_at = now
            changes.append(
                MonthChange(
                    month=key,
                    old_fee_dkk=old_fee,
                    new_fee_dkk=item.fee.fee_dkk,
                    provisional=item.fee.provisional,
                )
            )
    # Months that left the window (a withdrawal, say) earn nothing any more.
    gone = [key for key in stored if key not in seen and (only is None or Month.parse(key) in only)]
    await months.remove(participant_id, gone)
    changes += [
        MonthChange(month=key, old_fee_dkk=stored[key].fee_dkk, new_fee_dkk=None, provisional=False)
        for key in gone
    ]
    if changes:
        uow.emit(
            new_event(
                MonthsRecalculatedV1(
                    participant_id=participant_id,
                    programme_id=participant.programme_id,
                    changes=sorted(changes, key=lambda c: c.month),
                ),
                subject=f"participant/{participant_id}",
            )
        )
    return len(changes)


PRELOADED = "settlement.preloaded"
NEW_MONTHS = "settlement.new_months"


async def write_new_months(uow: UnitOfWork) -> None:
    rows = uow.scratch.pop(NEW_MONTHS, None)
    if rows:
        await uow.session.execute(insert(MonthRow), rows)


CHUNK = 500


@dataclass
class Preloaded:
    """Records and months of a chunk of participants, read with one query each instead of one per
    participant; each participant's entries are taken (popped) by its recompute."""

    participants: set[str]
    records: dict[str, list[StatusRecordRow]]
    months: dict[str, dict[str, MonthRow]]


async def preload(uow: UnitOfWork, participant_ids: Sequence[str]) -> None:
    facts = FactsRepository(uow.session)
    await facts.participants_by_id(participant_ids)  # into the session's identity map
    uow.scratch[PRELOADED] = Preloaded(
        set(participant_ids),
        await facts.records_of_many(participant_ids),
        await MonthRepository(uow.session).of_participants(participant_ids),
    )


async def recompute_many(
    uow: UnitOfWork, touched: Sequence[tuple[str, tuple[date, date | None] | None]], release: bool = False
) -> int:
    """Recompute participants in chunks, each chunk's data read in three queries. With ``release``,
    the session lets go of each chunk's rows once written (a whole programme at once)."""
    changed = 0
    for start in range(0, len(touched), CHUNK):
        chunk = touched[start : start + CHUNK]
        await preload(uow, [participant_id for participant_id, _ in chunk])
        for participant_id, span in chunk:
            changed += await recompute_participant(uow, participant_id, touched=span)
        uow.scratch.pop(PRELOADED, None)
        await write_new_months(uow)
        if release:
            await uow.session.flush()
            uow.session.expunge_all()
    return changed


async def recompute_programme(uow: UnitOfWork, programme_id: str) -> int:
    participants = await FactsRepository(uow.session).participant_ids_of(programme_id)
    return await recompute_many(
        uow, [(participant_id, None) for participant_id in participants], release=True
    )


async def months_of(uow: UnitOfWork, participant_id: str) -> Sequence[MonthRow]:
    stored = await MonthRepository(uow.session).of_participant(participant_id)
    return [stored[key] for key in sorted(stored)]


def require_person_level(principal: Principal, programme_id: str) -> None:
    if principal.role in (Role.investor, Role.integrator):
        raise Forbidden("Person-level months are not available to this role.")
    if not principal.can_access(programme_id):
        raise NotFound("No such participant.")


@dataclass(frozen=True)
class MonthsView:
    participant: ParticipantRow
    months: list[MonthRow]
    invoiced: dict[str, Decimal]


async def participant_months(database: Database, principal: Principal, participant_id: str) -> MonthsView:
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
    if principal.role in (Role.investor, Role.integrator):
        raise Forbidden("Person-level months are not available to this role.")
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
