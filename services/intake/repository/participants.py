"""Intake's queries about participants and the referrals' idempotency keys: add and flush, never commit."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from sqlalchemy import CursorResult, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from libs.common.clock import as_utc
from libs.common.contracts import WithdrawalReason
from services.intake.domain import (
    Participant,
    ParticipantStatus,
)
from services.intake.models import (
    IdempotencyKeyRow,
    ParticipantRow,
    TrackSeatsRow,
)


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


class IdempotencyRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def get(self, actor: str, key: str) -> IdempotencyKeyRow | None:
        return await self.session.get(IdempotencyKeyRow, (actor, key))

    def add(self, row: IdempotencyKeyRow) -> None:
        self.session.add(row)
