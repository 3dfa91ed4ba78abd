"""Erasing a participant's person-level rows (participant.erased.v1) and the tombstone that refuses the
id after. The accounting records stay: statement lines and their parts, dispute lines, invoices, and the
statement and invoice events in the outbox."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from sqlalchemy import delete, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from libs.common.contracts import (
    InvoiceIssuedV1,
    PaymentRecordedV1,
    StatementIssuedV1,
    StatementIssuedV2,
    StatementLinesV1,
)
from libs.common.outbox import erase_from_outbox
from libs.common.readaudit import redact_participant
from services.settlement.models import (
    ErasedParticipantRow,
    MeasurementCopyRow,
    MonthRow,
    ParticipantRow,
    RecordSequenceRow,
    SequenceGapRow,
    StatusRecordRow,
)

# Events kept in the outbox though they name the participant: the accounting records.
ACCOUNTING_EVENT_TYPES = (
    StatementIssuedV1.event_type,
    StatementLinesV1.event_type,
    StatementIssuedV2.event_type,
    InvoiceIssuedV1.event_type,
    PaymentRecordedV1.event_type,
)
PERSON_LEVEL = (
    ParticipantRow,
    StatusRecordRow,
    RecordSequenceRow,
    SequenceGapRow,
    MonthRow,
    MeasurementCopyRow,
)


class ErasureRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def lock(self, participant_id: str) -> None:
        """Hold the participant's erasure lock until the transaction ends (PostgreSQL; SQLite has one
        writer at a time anyway): an erasure and a copy written by another consumer or task (a
        measurement, a gap repair) then run one after the other, and the later sees the earlier."""
        if self.session.get_bind().dialect.name == "postgresql":
            key = func.hashtextextended(f"sib-erasure:{participant_id}", 0)
            await self.session.execute(select(func.pg_advisory_xact_lock(key)))

    async def is_erased(self, participant_id: str) -> bool:
        return await self.session.get(ErasedParticipantRow, participant_id) is not None

    async def erased_among(self, participant_ids: Iterable[str]) -> set[str]:
        wanted = sorted(set(participant_ids))
        found: set[str] = set()
        for start in range(0, len(wanted), 500):
            query = select(ErasedParticipantRow.participant_id).where(
                ErasedParticipantRow.participant_id.in_(wanted[start : start + 500])
            )
            found.update((await self.session.scalars(query)).all())
        return found

    async def all_erased(self) -> frozenset[str]:
        """Every erased participant: the statement ledger leaves their invoiced months as they stand."""
        return frozenset((await self.session.scalars(select(ErasedParticipantRow.participant_id))).all())

    async def erase(self, participant_id: str, erased_at: datetime) -> dict[str, int]:
        """Delete the participant's person-level rows and the outbox rows naming it (but the accounting
        events), and keep its tombstone; returns rows deleted per table."""
        counts: dict[str, int] = {}
        for model in PERSON_LEVEL:
            result: Any = await self.session.execute(
                delete(model).where(model.participant_id == participant_id)
            )
            counts[model.__tablename__] = int(result.rowcount or 0)
        counts["outbox"] = await erase_from_outbox(self.session, participant_id, ACCOUNTING_EVENT_TYPES)
        counts["read_audit_subjects"] = await redact_participant(self.session, participant_id)
        if not await self.is_erased(participant_id):
            self.session.add(ErasedParticipantRow(participant_id=participant_id, erased_at=erased_at))
        await self.session.flush()
        return counts
