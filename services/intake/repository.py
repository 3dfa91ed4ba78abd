"""Intake's queries: add and flush, never commit."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import date
from typing import Any

from sqlalchemy import CursorResult, delete, exists, insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from libs.common.clock import as_utc
from libs.common.contracts import ProgrammeParties, ProgrammeTerms, WithdrawalReason
from libs.common.db import outbox_table
from libs.common.outbox import erase_from_outbox, unpublished
from libs.common.readaudit import redact_participant
from services.intake.domain import (
    Erasure,
    ErasureBasis,
    ErasureReason,
    Participant,
    ParticipantStatus,
    PartiesVersion,
    Programme,
    TermsVersion,
)
from services.intake.models import (
    CprAuditRow,
    ErasureRow,
    IdempotencyKeyRow,
    ParticipantRow,
    ProgrammePartiesRow,
    ProgrammeRow,
    ProgrammeTermsRow,
    TrackSeatsRow,
)


class ProgrammeRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def get(self, programme_id: str, *, for_update: bool = False) -> Programme | None:
        query = select(ProgrammeRow).where(ProgrammeRow.programme_id == programme_id)
        if for_update:
            # Serialises enrolments into one programme (PostgreSQL row lock; SQLite transactions
            # are already serial under BEGIN IMMEDIATE).
            query = query.with_for_update()
        row = (await self.session.scalars(query)).one_or_none()
        if row is None:
            return None
        versions = (
            await self.session.scalars(
                select(ProgrammeTermsRow)
                .where(ProgrammeTermsRow.programme_id == programme_id)
                .order_by(ProgrammeTermsRow.version)
            )
        ).all()
        return _programme(row, versions)

    async def list(self) -> list[Programme]:
        rows = (await self.session.scalars(select(ProgrammeRow).order_by(ProgrammeRow.programme_id))).all()
        by_programme: dict[str, list[ProgrammeTermsRow]] = {}
        for terms_row in (await self.session.scalars(select(ProgrammeTermsRow))).all():
            by_programme.setdefault(terms_row.programme_id, []).append(terms_row)
        return [_programme(row, by_programme.get(row.programme_id, [])) for row in rows]

    def add(self, row: ProgrammeRow | ProgrammeTermsRow) -> None:
        self.session.add(row)

    async def flush(self) -> None:
        await self.session.flush()


def _programme(row: ProgrammeRow, versions: Iterable[ProgrammeTermsRow]) -> Programme:
    return Programme(
        programme_id=row.programme_id,
        name=row.name,
        invoiced_through=row.invoiced_through,
        versions=tuple(
            TermsVersion(
                version=v.version,
                effective_from=v.effective_from,
                published_at=as_utc(v.published_at),
                terms=ProgrammeTerms.model_validate(v.terms),
            )
            for v in sorted(versions, key=lambda v: v.version)
        ),
    )


class PartiesRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def versions(self, programme_id: str) -> list[PartiesVersion]:
        """Every published version of the programme's parties, oldest first."""
        query = (
            select(ProgrammePartiesRow)
            .where(ProgrammePartiesRow.programme_id == programme_id)
            .order_by(ProgrammePartiesRow.version)
        )
        return [
            PartiesVersion(
                version=row.version,
                effective_from=row.effective_from,
                published_at=as_utc(row.published_at),
                recorded_by=row.recorded_by,
                parties=ProgrammeParties.model_validate(row.parties),
            )
            for row in (await self.session.scalars(query)).all()
        ]

    def add(self, row: ProgrammePartiesRow) -> None:
        self.session.add(row)


class ParticipantRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def row(self, participant_id: str) -> ParticipantRow | None:
        return await self.session.get(ParticipantRow, participant_id)

    async def get(self, participant_id: str) -> Participant | None:
        row = await self.row(participant_id)
        return to_participant(row) if row else None

    async def by_pseudonyms(
        self, pseudonyms: Iterable[str], programme_id: str | None = None
    ) -> list[ParticipantRow]:
        """Every participation of the citizens with these pseudonyms: one query for a whole batch."""
        wanted = sorted(set(pseudonyms))
        if not wanted:
            return []
        query = select(ParticipantRow).where(ParticipantRow.cpr_pseudonym.in_(wanted))
        if programme_id is not None:
            query = query.where(ParticipantRow.programme_id == programme_id)
        return list((await self.session.scalars(query.order_by(ParticipantRow.programme_id))).all())

    async def by_ids(self, participant_ids: Iterable[str]) -> list[ParticipantRow]:
        """The participants with these ids (those that exist): one query for a whole batch."""
        wanted = sorted(set(participant_ids))
        if not wanted:
            return []
        query = select(ParticipantRow).where(ParticipantRow.participant_id.in_(wanted))
        return list((await self.session.scalars(query)).all())

    async def batch_after(self, after: str, limit: int) -> list[ParticipantRow]:
        """The next ``limit`` rows by id after ``after`` (keyset), locked until the batch commits."""
        query = (
            select(ParticipantRow)
            .where(ParticipantRow.participant_id > after)
            .order_by(ParticipantRow.participant_id)
            .limit(limit)
            .with_for_update()
        )
        return list((await self.session.scalars(query)).all())

    async def seats_taken(self, programme_id: str, track: str) -> int:
        """The seats taken on the track (``track_seats``): read under the programme's lock."""
        query = select(TrackSeatsRow.taken).where(
            TrackSeatsRow.programme_id == programme_id, TrackSeatsRow.track == track
        )
        return int((await self.session.execute(query)).scalar() or 0)

    async def take_seat(self, programme_id: str, track: str) -> None:
        """One more seat taken, in the enrolment's transaction, which holds the programme's lock (so
        no other enrolment into the programme reads or writes its counts meanwhile)."""
        counted = await self.session.execute(
            update(TrackSeatsRow)
            .where(TrackSeatsRow.programme_id == programme_id, TrackSeatsRow.track == track)
            .values(taken=TrackSeatsRow.taken + 1)
        )
        if isinstance(counted, CursorResult) and counted.rowcount == 0:  # the track's first seat
            self.session.add(TrackSeatsRow(programme_id=programme_id, track=track, taken=1))
            await self.session.flush()

    async def page(
        self,
        programme_ids: Sequence[str] | None,
        status: str | None,
        track: str | None,
        after: str | None,
        limit: int,
    ) -> list[ParticipantRow]:
        query = select(ParticipantRow)
        if programme_ids is not None:
            query = query.where(ParticipantRow.programme_id.in_(programme_ids))
        if status is not None:
            query = query.where(ParticipantRow.status == status)
        if track is not None:
            query = query.where(ParticipantRow.track == track)
        if after is not None:
            query = query.where(ParticipantRow.participant_id > after)
        query = query.order_by(ParticipantRow.participant_id).limit(limit)
        return list((await self.session.scalars(query)).all())

    def add(self, row: ParticipantRow) -> None:
        self.session.add(row)

    async def flush(self) -> None:
        await self.session.flush()


def to_participant(row: ParticipantRow) -> Participant:
    return Participant(
        participant_id=row.participant_id,
        programme_id=row.programme_id,
        track=row.track,
        status=ParticipantStatus(row.status),
        referred_on=row.referred_on,
        enrolled_on=row.enrolled_on,
        consent_given_on=row.consent_given_on,
        withdrawn_on=row.withdrawn_on,
        withdrawal_reason=WithdrawalReason(row.withdrawal_reason) if row.withdrawal_reason else None,
        coach_name=row.coach_name,
        created_at=as_utc(row.created_at),
        updated_at=as_utc(row.updated_at),
    )


def apply_participant(row: ParticipantRow, participant: Participant) -> None:
    """Copy a participant's changeable state onto its row."""
    row.status = participant.status.value
    row.enrolled_on = participant.enrolled_on
    row.consent_given_on = participant.consent_given_on
    row.withdrawn_on = participant.withdrawn_on
    row.withdrawal_reason = participant.withdrawal_reason.value if participant.withdrawal_reason else None
    row.coach_name = participant.coach_name
    row.updated_at = participant.updated_at


class AuditRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    def add(self, row: CprAuditRow) -> None:
        self.session.add(row)

    async def insert_many(self, rows: Sequence[Mapping[str, Any]]) -> None:
        if rows:
            # render_nulls: one statement for all rows; without it the ORM splits them by which
            # values are None (a lookup's rows with and without a participant).
            await self.session.execute(insert(CprAuditRow).execution_options(render_nulls=True), list(rows))

    async def page(
        self, participant_id: str | None, programmes: list[str] | None, after: int | None, limit: int
    ) -> list[CprAuditRow]:
        """``programmes``: only rows naming a participant of these (None: every row, also those naming
        none, such as a key rotation's)."""
        query = select(CprAuditRow)
        if programmes is not None:
            query = query.where(
                CprAuditRow.participant_id.in_(
                    select(ParticipantRow.participant_id).where(ParticipantRow.programme_id.in_(programmes))
                )
            )
        if participant_id is not None:
            query = query.where(CprAuditRow.participant_id == participant_id)
        if after is not None:
            query = query.where(CprAuditRow.seq > after)
        return list((await self.session.scalars(query.order_by(CprAuditRow.seq).limit(limit))).all())


class IdempotencyRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def get(self, actor: str, key: str) -> IdempotencyKeyRow | None:
        return await self.session.get(IdempotencyKeyRow, (actor, key))

    def add(self, row: IdempotencyKeyRow) -> None:
        self.session.add(row)


class ErasureRepository:
    """Erasure orders and done erasures, and the statements that erase a participant's rows."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def of_participant(self, participant_id: str, *, for_update: bool = False) -> ErasureRow | None:
        query = select(ErasureRow).where(ErasureRow.participant_id == participant_id)
        if for_update:
            query = query.with_for_update()
        return (await self.session.scalars(query)).one_or_none()

    def add(self, row: ErasureRow) -> None:
        self.session.add(row)

    async def flush(self) -> None:
        await self.session.flush()

    async def ordered(self) -> list[ErasureRow]:
        """The orders not yet carried out, oldest first."""
        query = select(ErasureRow).where(ErasureRow.erased_at.is_(None)).order_by(ErasureRow.erasure_id)
        return list((await self.session.scalars(query)).all())

    async def page(
        self, programme_ids: Sequence[str] | None, erased: bool | None, after: str | None, limit: int
    ) -> list[ErasureRow]:
        query = select(ErasureRow)
        if programme_ids is not None:
            query = query.where(ErasureRow.programme_id.in_(programme_ids))
        if erased is not None:
            query = query.where(
                ErasureRow.erased_at.is_not(None) if erased else ErasureRow.erased_at.is_(None)
            )
        if after is not None:
            query = query.where(ErasureRow.erasure_id > after)
        query = query.order_by(ErasureRow.erasure_id).limit(limit)
        return list((await self.session.scalars(query)).all())

    async def referred_on_or_before(self, day: date) -> list[Participant]:
        """The participants referred on or before ``day``: the only ones whose retention can have
        passed when ``day`` is a year before today (retention_years is at least 1)."""
        query = select(ParticipantRow).where(ParticipantRow.referred_on <= day)
        return [to_participant(row) for row in (await self.session.scalars(query)).all()]

    async def locked_participant(self, participant_id: str) -> ParticipantRow | None:
        """The participant's row, locked until the transaction ends (PostgreSQL; SQLite's writers are
        serial): a second replica erasing the same participant waits here, then finds it gone."""
        query = (
            select(ParticipantRow).where(ParticipantRow.participant_id == participant_id).with_for_update()
        )
        return (await self.session.scalars(query)).one_or_none()

    async def events_unpublished(self, participant_id: str) -> bool:
        """Whether an outbox row naming the participant is still to be published."""
        query = select(exists().where(unpublished(), _names(participant_id)))
        return bool((await self.session.execute(query)).scalar())

    async def erase_rows(self, participant_id: str) -> dict[str, int]:
        """Delete the participant's row, its idempotency rows and the outbox rows naming it, and null
        it in the CPR audit; the counts per table."""
        counts = {
            "outbox": await erase_from_outbox(self.session, participant_id),
            "read_audit_subjects": await redact_participant(self.session, participant_id),
            "idempotency_keys": await self._count(
                delete(IdempotencyKeyRow).where(IdempotencyKeyRow.resource_id == participant_id)
            ),
            "cpr_audit": await self._count(
                update(CprAuditRow)
                .where(CprAuditRow.participant_id == participant_id)
                .values(participant_id=None)
            ),
            "participants": await self._count(
                delete(ParticipantRow).where(ParticipantRow.participant_id == participant_id)
            ),
        }
        return counts

    async def _count(self, statement: Any) -> int:
        result = await self.session.execute(statement.execution_options(synchronize_session=False))
        return result.rowcount if isinstance(result, CursorResult) else 0


def _names(participant_id: str) -> Any:
    """An outbox row whose event (the whole envelope) names the participant id."""
    return outbox_table.c.envelope.contains(participant_id, autoescape=True)


def to_erasure(row: ErasureRow) -> Erasure:
    return Erasure(
        erasure_id=row.erasure_id,
        participant_id=row.participant_id,
        programme_id=row.programme_id,
        basis=ErasureBasis(row.basis),
        reason_code=ErasureReason(row.reason_code) if row.reason_code else None,
        reason=row.reason,
        ordered_by=row.ordered_by,
        ordered_at=as_utc(row.ordered_at) if row.ordered_at else None,
        erased_at=as_utc(row.erased_at) if row.erased_at else None,
    )
