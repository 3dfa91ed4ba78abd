"""The copies settlement keeps of participants, status records, their recording sequences and cut-offs:
add and flush, never commit."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from datetime import date, datetime
from operator import itemgetter
from typing import Any, cast

from sqlalchemy import Table, bindparam, func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from libs.common.bulk import BulkStatement
from libs.common.db import each_key_lookup
from services.settlement.domain.calculation import RecordedStatusTuple
from services.settlement.models import (
    CutoffRow,
    ParticipantRow,
    RecordSequenceRow,
    SequenceGapRow,
    StatusRecordRow,
)

_sequences = cast(Table, RecordSequenceRow.__table__)
_SEQUENCES = select(_sequences.c.participant_id, _sequences.c.records_held, _sequences.c.highest_seq).where(
    _sequences.c.participant_id.in_(bindparam("ids", expanding=True))
)
_INSERT_SEQUENCES = BulkStatement.insert(_sequences, ("participant_id", "records_held", "highest_seq"))
_UPDATE_SEQUENCES = (
    update(_sequences)
    .where(_sequences.c.participant_id == bindparam("pid"))
    .values(records_held=bindparam("held"), highest_seq=bindparam("highest"))
)

# A status record's columns, in the order insert_records hands them over.
RECORD_COLUMNS = tuple(column.name for column in cast(Table, StatusRecordRow.__table__).columns)
_INSERT_RECORDS = BulkStatement.insert(cast(Table, StatusRecordRow.__table__), RECORD_COLUMNS)
_record_values = itemgetter(*RECORD_COLUMNS)


_KNOWN_RECORDS_PG = each_key_lookup("status_records", ["record_id"], columns="status_records.record_id")


# What the months need of a participant and of a record (Core rows, no ORM objects).
EnrolmentRow = tuple[str, str, str, date | None, date | None]
RecordTuple = tuple[str, str, date, date | None, int, datetime]
RECORDS_PER_PARTITION = 2000


def _recording_seq(status: RecordedStatusTuple) -> int:
    return status[3]


class FactsRepository:
    """The copies settlement keeps of participants, status records and cut-offs."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def participant(self, participant_id: str) -> ParticipantRow | None:
        return await self.session.get(ParticipantRow, participant_id)

    async def participants_of(self, programme_id: str) -> Sequence[ParticipantRow]:
        query = select(ParticipantRow).where(ParticipantRow.programme_id == programme_id)
        return (await self.session.scalars(query)).all()

    async def record(self, record_id: str) -> StatusRecordRow | None:
        return await self.session.get(StatusRecordRow, record_id)

    async def participant_ids_of(self, programme_id: str) -> list[str]:
        query = (
            select(ParticipantRow.participant_id)
            .where(ParticipantRow.programme_id == programme_id)
            .order_by(ParticipantRow.participant_id)
        )
        return list((await self.session.scalars(query)).all())

    async def participants_by_id(self, participant_ids: Sequence[str]) -> list[ParticipantRow]:
        query = select(ParticipantRow).where(ParticipantRow.participant_id.in_(list(participant_ids)))
        return list((await self.session.scalars(query)).all())

    async def records_of_many(self, participant_ids: Sequence[str]) -> dict[str, list[StatusRecordRow]]:
        query = (
            select(StatusRecordRow)
            .where(StatusRecordRow.participant_id.in_(list(participant_ids)))
            .order_by(StatusRecordRow.participant_id, StatusRecordRow.recording_seq)
        )
        grouped: dict[str, list[StatusRecordRow]] = {}
        for row in (await self.session.scalars(query)).all():
            grouped.setdefault(row.participant_id, []).append(row)
        return grouped

    async def insert_records(self, rows: list[dict[str, Any]]) -> dict[str, tuple[int, int]]:
        """New status records (dicts with every column): one executemany of tuples, no ORM objects.
        Their participants' counts in ``record_sequences`` move with them; returns those counts (records
        held, highest recording_seq) as they are now."""
        await _INSERT_RECORDS.run(self.session, [_record_values(row) for row in rows])
        added: dict[str, tuple[int, int]] = {}
        for row in rows:
            held, highest = added.get(row["participant_id"], (0, 0))
            added[row["participant_id"]] = (held + 1, max(highest, row["recording_seq"]))
        if not added:
            return {}
        before = await self.sequence_counts(set(added))
        now = {
            pid: (before[pid][0] + held, max(before[pid][1], highest)) if pid in before else (held, highest)
            for pid, (held, highest) in added.items()
        }
        await _INSERT_SEQUENCES.run(self.session, [(pid, *now[pid]) for pid in added if pid not in before])
        updates = [
            {"pid": pid, "held": now[pid][0], "highest": now[pid][1]} for pid in added if pid in before
        ]
        if updates:
            await self.session.execute(_UPDATE_SEQUENCES, updates)
        return now

    async def known_records(self, record_ids: list[str]) -> set[str]:
        """Which of these records are held. On PostgreSQL one index lookup per id (``each_key_lookup``):
        a ``record_id IN (...)`` plan cached while the table was small scans it
        (docs/performance.md#seventh-session-2026-12-03)."""
        if self.session.get_bind().dialect.name == "postgresql":
            return set((await self.session.scalars(_KNOWN_RECORDS_PG, {"record_id": record_ids})).all())
        known: set[str] = set()
        for start in range(0, len(record_ids), 500):
            chunk = record_ids[start : start + 500]
            query = select(StatusRecordRow.record_id).where(StatusRecordRow.record_id.in_(chunk))
            known.update((await self.session.scalars(query)).all())
        return known

    async def record_count(self, programme_id: str) -> int:
        query = (
            select(func.count())
            .select_from(StatusRecordRow)
            .where(StatusRecordRow.programme_id == programme_id)
        )
        return int((await self.session.execute(query)).scalar_one())

    async def records_of_programme(self, programme_id: str) -> dict[str, list[RecordTuple]]:
        """Every status record of the programme, by participant, in recording order, as plain tuples
        (record_id, code, valid_from, valid_to, recording_seq, recorded_at). Read on the event loop, so
        in partitions with a turn for the loop's other work after each (the inline SQLite driver never
        suspends by itself), and without an ORM object per record
        (docs/performance.md#reports-and-the-event-loop-2026-12-06)."""
        query = (
            select(
                StatusRecordRow.participant_id,
                StatusRecordRow.record_id,
                StatusRecordRow.code,
                StatusRecordRow.valid_from,
                StatusRecordRow.valid_to,
                StatusRecordRow.recording_seq,
                StatusRecordRow.recorded_at,
            )
            .where(StatusRecordRow.programme_id == programme_id)
            .order_by(StatusRecordRow.participant_id, StatusRecordRow.recording_seq)
        )
        by_participant: dict[str, list[RecordTuple]] = {}
        result = await self.session.stream(query.execution_options(yield_per=RECORDS_PER_PARTITION))
        async for partition in result.partitions():
            for pid, *record in partition:
                by_participant.setdefault(pid, []).append(cast(RecordTuple, tuple(record)))
            await asyncio.sleep(0)
        return by_participant

    async def gaps_among(self, participant_ids: set[str]) -> dict[str, SequenceGapRow]:
        query = select(SequenceGapRow).where(SequenceGapRow.participant_id.in_(sorted(participant_ids)))
        return {row.participant_id: row for row in await self.session.scalars(query)}

    async def sequence_counts(self, participant_ids: set[str]) -> dict[str, tuple[int, int]]:
        """Per participant: how many records are held and the highest recording_seq among them."""
        rows = await self.session.execute(_SEQUENCES, {"ids": list(participant_ids)})
        return {pid: (held, highest) for pid, held, highest in rows.all()}

    async def enrolments(self, participant_ids: Sequence[str]) -> list[EnrolmentRow]:
        """Per participant what its months need (no ORM objects): id, programme, track, enrolled, withdrawn."""
        query = select(
            ParticipantRow.participant_id,
            ParticipantRow.programme_id,
            ParticipantRow.track,
            ParticipantRow.enrolled_on,
            ParticipantRow.withdrawn_on,
        ).where(ParticipantRow.participant_id.in_(list(participant_ids)))
        # Rows unpack like the tuples they describe.
        return cast(list[EnrolmentRow], list((await self.session.execute(query)).all()))

    async def statuses_of(
        self, participant_ids: Sequence[str], between: tuple[date, date] | None = None
    ) -> dict[str, list[RecordedStatusTuple]]:
        """Per participant its records as (code, valid_from, valid_to, recording_seq) tuples, in
        recording order; with ``between`` only those whose validity overlaps it."""
        query = select(
            StatusRecordRow.participant_id,
            StatusRecordRow.code,
            StatusRecordRow.valid_from,
            StatusRecordRow.valid_to,
            StatusRecordRow.recording_seq,
        ).where(StatusRecordRow.participant_id.in_(list(participant_ids)))
        if between is not None:
            query = query.where(
                StatusRecordRow.valid_from <= between[1],
                or_(StatusRecordRow.valid_to.is_(None), StatusRecordRow.valid_to >= between[0]),
            )
        grouped: dict[str, list[RecordedStatusTuple]] = {}
        for pid, code, valid_from, valid_to, seq in (await self.session.execute(query)).all():
            grouped.setdefault(pid, []).append((code, valid_from, valid_to, seq))
        for statuses in grouped.values():
            statuses.sort(key=_recording_seq)
        return grouped

    async def records_of(self, participant_id: str) -> Sequence[StatusRecordRow]:
        query = (
            select(StatusRecordRow)
            .where(StatusRecordRow.participant_id == participant_id)
            .order_by(StatusRecordRow.recording_seq)
        )
        return (await self.session.scalars(query)).all()

    async def cutoff(self, programme_id: str) -> CutoffRow | None:
        query = (
            select(CutoffRow)
            .where(CutoffRow.programme_id == programme_id)
            .order_by(CutoffRow.recorded_at.desc())
            .limit(1)
        )
        return (await self.session.scalars(query)).first()

    async def has_cutoff(self, programme_id: str, recorded_at: object, complete_through: object) -> bool:
        return await self.session.get(CutoffRow, (programme_id, recorded_at, complete_through)) is not None

    def add(self, row: ParticipantRow | StatusRecordRow | CutoffRow) -> None:
        self.session.add(row)
