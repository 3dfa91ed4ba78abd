"""Settlement's part of a citizen's right-of-access export (GDPR art. 15): everything it holds that
names one participant, read for intake's own identity, which gathers the three services' parts."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal

from libs.common.auth import Principal, Role
from libs.common.clock import as_utc
from libs.common.db import Database
from libs.common.errors import Forbidden, NotFound
from libs.common.logging import get_logger
from libs.common.uow import UnitOfWork
from services.settlement.repository import (
    DisputeRepository,
    FactsRepository,
    MeasurementRepository,
    MonthRepository,
    StatementRepository,
)

log = get_logger(__name__)


@dataclass(frozen=True, slots=True)
class ParticipantCopy:
    participant_id: str
    programme_id: str
    track: str
    referred_on: date
    enrolled_on: date | None
    withdrawn_on: date | None
    updated_at: datetime  # in UTC


@dataclass(frozen=True, slots=True)
class RecordCopy:
    """A status record as settlement keeps it (from progression's events), the basis of the months."""

    record_id: str
    code: str
    valid_from: date
    valid_to: date | None
    recording_seq: int
    recorded_at: datetime  # in UTC


@dataclass(frozen=True, slots=True)
class MeasurementCopy:
    measurement_id: str
    measured_on: date
    scores: dict[str, int]
    recorded_at: datetime  # in UTC


@dataclass(frozen=True, slots=True)
class FeeMonth:
    """A month of the fee window with what explains its fee."""

    month: str
    in_window_days: int
    self_supporting_days: int
    public_support_days: int
    unknown_days: int
    provisional: bool
    fee_dkk: Decimal
    rule: str
    fee_per_month_dkk: Decimal
    terms_version: int
    cutoff_used: date | None
    computed_at: datetime  # in UTC


@dataclass(frozen=True, slots=True)
class NamingLine:
    """An issued statement's line that names the participant."""

    statement_id: str
    statement_number: int
    period: str
    line_no: int
    kind: str
    month: str | None
    amount_dkk: Decimal
    corrects_statement_id: str | None
    corrects_line_no: int | None


@dataclass(frozen=True, slots=True)
class DisputedLine:
    statement_id: str
    line_no: int
    month: str
    amount_dkk: Decimal


@dataclass(frozen=True, slots=True)
class DisputeStep:
    step: str
    by: str
    by_role: str
    at: datetime  # in UTC
    reason: str | None


@dataclass(frozen=True)
class NamingDispute:
    """A dispute with a line naming the participant: its own fields, only the lines that name this
    participant (a dispute of a cell covers other citizens too), and its steps."""

    dispute_id: str
    statement_id: str
    month: str
    kind: str
    reason_code: str
    text: str
    state: str
    opened_by: str
    opened_role: str
    opened_at: datetime  # in UTC
    closed_at: datetime | None  # in UTC
    resolution_reason: str | None
    lines: list[DisputedLine]
    steps: list[DisputeStep]


@dataclass(frozen=True)
class PersonalData:
    participant: ParticipantCopy
    status_records: list[RecordCopy]
    measurements: list[MeasurementCopy]
    months: list[FeeMonth]
    statement_lines: list[NamingLine]
    disputes: list[NamingDispute]


async def personal_data(database: Database, principal: Principal, participant_id: str) -> PersonalData:
    """Everything settlement holds that names the participant, in one read transaction. Only intake's
    own identity asks (403 for every other role); 404 for a participant settlement does not know."""
    if principal.role is not Role.intake_service:
        raise Forbidden("Only intake's service identity gathers a citizen's personal data.")
    async with UnitOfWork(database, read_only=True) as uow:
        facts = FactsRepository(uow.session)
        row = await facts.participant(participant_id)
        if row is None:
            raise NotFound("No such participant.")
        programme_id = row.programme_id
        records = await facts.records_of(participant_id)
        measurements = await MeasurementRepository(uow.session).of_participant(programme_id, participant_id)
        months = await MonthRepository(uow.session).of_participant(participant_id)
        lines = await StatementRepository(uow.session).lines_naming(programme_id, participant_id)
        disputes_repo = DisputeRepository(uow.session)
        disputes = await disputes_repo.naming(programme_id, participant_id)
        ids = [d.dispute_id for d in disputes]
        dispute_lines = await disputes_repo.lines_of(ids)
        steps = await disputes_repo.steps_of(ids)
        found = PersonalData(
            participant=ParticipantCopy(
                row.participant_id,
                programme_id,
                row.track,
                row.referred_on,
                row.enrolled_on,
                row.withdrawn_on,
                as_utc(row.updated_at),
            ),
            status_records=[
                RecordCopy(
                    r.record_id, r.code, r.valid_from, r.valid_to, r.recording_seq, as_utc(r.recorded_at)
                )
                for r in records
            ],
            measurements=[
                MeasurementCopy(m.measurement_id, m.measured_on, m.scores, as_utc(m.recorded_at))
                for m in measurements
            ],
            months=[
                FeeMonth(
                    m.month,
                    m.in_window_days,
                    m.self_supporting_days,
                    m.public_support_days,
                    m.unknown_days,
                    m.provisional,
                    m.fee_dkk,
                    m.rule,
                    m.fee_per_month_dkk,
                    m.terms_version,
                    m.cutoff_used,
                    as_utc(m.computed_at),
                )
                for m in (months[key] for key in sorted(months))
            ],
            statement_lines=[
                NamingLine(
                    line.statement_id,
                    statement.number,
                    statement.period,
                    line.line_no,
                    line.kind,
                    line.month,
                    line.amount_dkk,
                    line.corrects_statement_id,
                    line.corrects_line_no,
                )
                for line, statement in lines
            ],
            disputes=[
                NamingDispute(
                    d.dispute_id,
                    d.statement_id,
                    d.month,
                    d.kind,
                    d.reason_code,
                    d.text,
                    d.state,
                    d.opened_by,
                    d.opened_role,
                    as_utc(d.opened_at),
                    as_utc(d.closed_at) if d.closed_at is not None else None,
                    d.resolution_reason,
                    [
                        DisputedLine(x.statement_id, x.line_no, x.month, x.amount_dkk)
                        for x in dispute_lines[d.dispute_id]
                        if x.participant_id == participant_id
                    ],
                    [
                        DisputeStep(s.step, s.by_subject, s.by_role, as_utc(s.at), s.reason)
                        for s in steps[d.dispute_id]
                    ],
                )
                for d in disputes
            ],
        )
    log.info(
        "personal_data_gathered",
        participant_id=participant_id,
        months=len(found.months),
        statement_lines=len(found.statement_lines),
        disputes=len(found.disputes),
    )
    return found
