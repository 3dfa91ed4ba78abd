"""Intake's queries of erasures: the orders, the candidates, and the rows an erasure removes."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from typing import Any

from sqlalchemy import CursorResult, delete, exists, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from libs.common.clock import as_utc
from libs.common.db import outbox_table
from libs.common.outbox import erase_from_outbox, unpublished
from libs.common.readaudit import redact_participant
from services.intake.domain import (
    Erasure,
    ErasureBasis,
    ErasureReason,
    Participant,
)
from services.intake.models import (
    CprAuditRow,
    ErasureRow,
    IdempotencyKeyRow,
    ParticipantRow,
)
from services.intake.repository.participants import to_participant


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
