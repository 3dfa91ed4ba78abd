"""Reading a participant's months: the stored months and the explanation of a month's fee (what a set of
records would change: dry_run.py). Person-level: never for the investor or the integrator."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import select

from libs.common.auth import Principal, Role
from libs.common.clock import as_utc
from libs.common.contracts import StatusCode
from libs.common.db import Database
from libs.common.errors import Forbidden, NotFound, ValidationFailed
from libs.common.uow import UnitOfWork
from libs.rules.timeline import StatusRecord, resolve
from services.settlement.domain import Enrolment, Month, TermsVersion, compute_months, window_for
from services.settlement.domain.calculation import categories_under
from services.settlement.models import MonthRow, ParticipantRow, StatementLineRow, StatusRecordRow
from services.settlement.repository import FactsRepository, MonthRepository
from services.settlement.services.programme_facts import ProgrammeFactsCache


def to_record(row: StatusRecordRow) -> StatusRecord:
    return StatusRecord(
        row.record_id,
        StatusCode(row.code),
        row.valid_from,
        row.valid_to,
        row.recording_seq,
        as_utc(row.recorded_at),
    )


@dataclass(frozen=True)
class Facts:
    participant: ParticipantRow
    enrolment: Enrolment | None
    versions: list[TermsVersion]
    records: list[StatusRecord]
    cutoff: date | None


async def load_facts(uow: UnitOfWork, participant: ParticipantRow, programmes: ProgrammeFactsCache) -> Facts:
    cutoff, versions = await programmes.get(uow, participant.programme_id)
    enrolment = (
        Enrolment(participant.track, participant.enrolled_on, participant.withdrawn_on)
        if participant.enrolled_on is not None
        else None
    )
    rows = await FactsRepository(uow.session).records_of(participant.participant_id)
    return Facts(participant, enrolment, versions, [to_record(r) for r in rows], cutoff)


async def months_of(uow: UnitOfWork, participant_id: str) -> Sequence[MonthRow]:
    stored = await MonthRepository(uow.session).of_participant(participant_id)
    return [stored[key] for key in sorted(stored)]


# Who reads person-level months: an allow-list, so a new role reads none until it is named here.
PERSON_READERS = frozenset({Role.jobcenter, Role.provider, Role.admin, Role.auditor})


def refuse_aggregate_readers(principal: Principal) -> None:
    """Every role but the person readers (the investor, the integrator, finance) reads no person-level
    row: 403 before anything is looked up, so the answer does not tell them whether a participant id
    exists."""
    if principal.role not in PERSON_READERS:
        raise Forbidden("Person-level months are not available to this role.")


async def readable_participant(uow: UnitOfWork, principal: Principal, participant_id: str) -> ParticipantRow:
    """The participant, for a reader of person-level rows of its programme: 403 for the aggregate
    readers (``refuse_aggregate_readers``), 404 for an unknown participant and for one of a programme
    the reader may not see (the same answer, so neither learns which)."""
    refuse_aggregate_readers(principal)
    participant = await FactsRepository(uow.session).participant(participant_id)
    if participant is None or not principal.can_access(participant.programme_id):
        raise NotFound("No such participant.")
    return participant


@dataclass(frozen=True)
class MonthView:
    month: str
    in_window_days: int
    self_supporting_days: int
    public_support_days: int
    unknown_days: int
    provisional: bool
    fee_dkk: Decimal
    invoiced_dkk: Decimal  # what issued statements have invoiced for the month so far


@dataclass(frozen=True)
class MonthsView:
    programme_id: str
    months: list[MonthView]


async def participant_months(database: Database, principal: Principal, participant_id: str) -> MonthsView:
    async with UnitOfWork(database) as uow:
        participant = await readable_participant(uow, principal, participant_id)
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
    return MonthsView(
        participant.programme_id,
        [
            MonthView(
                month=row.month,
                in_window_days=row.in_window_days,
                self_supporting_days=row.self_supporting_days,
                public_support_days=row.public_support_days,
                unknown_days=row.unknown_days,
                provisional=row.provisional,
                fee_dkk=Decimal(row.fee_dkk).quantize(Decimal("0.01")),
                invoiced_dkk=invoiced.get(row.month, Decimal("0.00")),
            )
            for row in rows
        ],
    )


@dataclass(frozen=True)
class DecidingPeriod:
    """Days of the month one record decided (no record: ``record_id`` None)."""

    start: date
    end: date
    category: str
    code: str | None
    record_id: str | None
    recording_seq: int | None
    recorded_at: datetime | None


@dataclass(frozen=True)
class Explanation:
    participant_id: str
    month: str
    window_start: date
    window_end: date
    cutoff_used: date | None
    terms_version: int
    rule: str
    fee_per_month_dkk: Decimal
    days_in_month: int
    in_window_days: int
    self_supporting_days: int
    public_support_days: int
    unknown_days: int
    provisional: bool
    fee_dkk: Decimal
    calculation: str
    periods: list[DecidingPeriod]
    window_terms_version: int
    programme_id: str  # for the read audit; not in the answer


async def explain(
    database: Database, principal: Principal, participant_id: str, month_text: str
) -> Explanation:
    """Which records decided which days of the month, the cut-off and the rule: enough to check the fee
    by hand."""
    refuse_aggregate_readers(principal)
    try:
        month = Month.parse(month_text)
        month.first_day  # noqa: B018 - raises for a month number out of range
    except ValueError:
        raise ValidationFailed.for_field("month", "must be YYYY-MM") from None
    async with UnitOfWork(database) as uow:
        participant = await readable_participant(uow, principal, participant_id)
        facts = await load_facts(uow, participant, ProgrammeFactsCache())
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
            DecidingPeriod(
                start,
                end,
                period.category.value,
                period.code.value if period.code else None,
                period.record_id,
                record.recording_seq if record else None,
                record.recorded_at if record else None,
            )
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
    return Explanation(
        participant_id=participant_id,
        month=month_text,
        window_start=window.start,
        window_end=window.end,
        cutoff_used=facts.cutoff,
        terms_version=item.terms_version,
        rule=fee.rule.value,
        fee_per_month_dkk=fee.fee_per_month_dkk,
        days_in_month=month.days,
        in_window_days=fee.in_window_days,
        self_supporting_days=fee.self_supporting_days,
        public_support_days=fee.public_support_days,
        unknown_days=fee.unknown_days,
        provisional=fee.provisional,
        fee_dkk=fee.fee_dkk,
        calculation=calculation,
        periods=periods,
        window_terms_version=at_enrolment.version,
        programme_id=participant.programme_id,
    )
