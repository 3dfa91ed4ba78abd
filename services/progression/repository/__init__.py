"""Progression's queries: add and flush, never commit."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from operator import attrgetter
from typing import Any, Protocol, cast

from sqlalchemy import Table, bindparam, select, update
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession

from libs.common.bulk import BulkStatement
from libs.common.db import each_key_lookup
from services.progression.models import (
    BatchRequestRow,
    CutoffRow,
    MeasurementRow,
    MilestoneRow,
    ParticipantRow,
    ProgrammeRow,
    StatusRecordRow,
)


class ProgrammeRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def get(self, programme_id: str, *, for_update: bool = False) -> ProgrammeRow | None:
        query = select(ProgrammeRow).where(ProgrammeRow.programme_id == programme_id)
        if for_update:
            query = query.with_for_update()
        return (await self.session.scalars(query)).one_or_none()

    async def many(self, programme_ids: Iterable[str]) -> dict[str, ProgrammeRow]:
        rows = await self.session.scalars(
            select(ProgrammeRow).where(ProgrammeRow.programme_id.in_(set(programme_ids)))
        )
        return {row.programme_id: row for row in rows}

    def add(self, row: ProgrammeRow | CutoffRow) -> None:
        self.session.add(row)

    async def cutoffs(self, programme_id: str) -> Sequence[CutoffRow]:
        query = select(CutoffRow).where(CutoffRow.programme_id == programme_id).order_by(CutoffRow.seq)
        return (await self.session.scalars(query)).all()


class Participant(Protocol):
    """What a status record needs of its participant: a stored row or a ``KnownParticipant``."""

    @property
    def participant_id(self) -> str: ...

    @property
    def programme_id(self) -> str: ...


@dataclass(frozen=True, slots=True)
class KnownParticipant:
    """A participant as the status writer reads it, with its programme's status categories (None
    while progression has not heard of the programme)."""

    participant_id: str
    programme_id: str
    last_recording_seq: int
    status_categories: dict[str, str] | None


# The status writer's statements, built once (with expanding lists): building them per request, the
# IN lists' values coerced one by one, was a large share of a single POST's writing (figures:
# docs/performance.md#second-session-2026-12-02).
_PEOPLE = cast(Table, ParticipantRow.__table__)
_PROGRAMMES = cast(Table, ProgrammeRow.__table__)
_KNOWN = (
    select(
        _PEOPLE.c.participant_id,
        _PEOPLE.c.programme_id,
        _PEOPLE.c.last_recording_seq,
        _PROGRAMMES.c.status_categories,
    )
    .select_from(_PEOPLE.outerjoin(_PROGRAMMES, _PROGRAMMES.c.programme_id == _PEOPLE.c.programme_id))
    .where(_PEOPLE.c.participant_id.in_(bindparam("ids", expanding=True)))
)
_KNOWN_FOR_UPDATE = _KNOWN.with_for_update(of=_PEOPLE)
_SET_RECORDING_SEQ = (
    update(_PEOPLE)
    .where(_PEOPLE.c.participant_id == bindparam("pid"))
    .values(last_recording_seq=bindparam("last"))
)
# Both columns, so the unique (programme_id, source_record_id) index finds them (SQLite).
_BY_SOURCE_IDS = select(StatusRecordRow).where(
    StatusRecordRow.programme_id.in_(bindparam("programmes", expanding=True)),
    StatusRecordRow.source_record_id.in_(bindparam("sources", expanding=True)),
)
# PostgreSQL: the pairs as two arrays, each pair looked up in the unique index. With the two IN lists,
# the generic plan PostgreSQL settles on for a prepared statement after five runs, on a table it had
# not analysed, searched the index by programme_id alone and filtered every record of the programme
# by source id: a single POST then read the whole programme's records, a cost growing with them; this
# way the cost stays the same, whatever the table holds (figures: docs/performance.md#sixth-session-2026-12-03
# and #from-the-codes-comments). See libs.common.db.each_key_lookup.
_BY_SOURCE_IDS_PG = select(StatusRecordRow).from_statement(
    each_key_lookup("status_records", ["programme_id", "source_record_id"])
)
# A retried batch's records by id, as many as the batch held.
_BY_IDS_PG = select(StatusRecordRow).from_statement(each_key_lookup("status_records", ["record_id"]))


class ParticipantRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def get(self, participant_id: str, *, for_update: bool = False) -> ParticipantRow | None:
        return await self.session.get(
            ParticipantRow, participant_id, with_for_update=True if for_update else None
        )

    async def by_ids(self, participant_ids: Iterable[str]) -> dict[str, ParticipantRow]:
        wanted = set(participant_ids)
        if not wanted:
            return {}
        rows = await self.session.scalars(
            select(ParticipantRow).where(ParticipantRow.participant_id.in_(wanted))
        )
        return {row.participant_id: row for row in rows}

    async def add_if_absent(self, values: Mapping[str, Any]) -> ParticipantRow:
        """The stored participant: inserted from ``values`` unless a row of its id is there already
        (``ON CONFLICT DO NOTHING``), then read. Two writers may learn of a participant at once (the
        consumer from intake's event, a status post from intake's API); a plain insert by the later
        one would fail on the key. On PostgreSQL the insert waits for the other's uncommitted row."""
        dialect = self.session.get_bind().dialect.name
        insert = postgresql_insert if dialect == "postgresql" else sqlite_insert
        statement = insert(_PEOPLE).values(**values).on_conflict_do_nothing(index_elements=["participant_id"])
        await self.session.execute(statement)
        row = await self.session.get(ParticipantRow, values["participant_id"], populate_existing=True)
        assert row is not None  # inserted or already there, in this transaction
        return row

    async def add_all_if_absent(self, rows: Sequence[Mapping[str, Any]]) -> None:
        """Insert each participant unless a row of its id is there already, as ``add_if_absent`` does,
        in one statement for them all (a status batch may name thousands unknown here). In id order,
        so two such writers on PostgreSQL wait for each other's rows rather than deadlock."""
        if not rows:
            return
        dialect = self.session.get_bind().dialect.name
        insert = postgresql_insert if dialect == "postgresql" else sqlite_insert
        statement = insert(_PEOPLE).on_conflict_do_nothing(index_elements=["participant_id"])
        await self.session.execute(statement, sorted(rows, key=lambda row: str(row["participant_id"])))

    async def flush(self) -> None:
        await self.session.flush()

    async def known(self, participant_ids: set[str], *, for_update: bool = False) -> list[KnownParticipant]:
        """Participants by id, with their programme's categories: one Core query (no ORM object per
        row). ``for_update`` locks the participants' rows on PostgreSQL; on SQLite the writer already
        holds the file."""
        if not participant_ids:
            return []
        query = _KNOWN_FOR_UPDATE if for_update else _KNOWN
        rows = await self.session.execute(query, {"ids": list(participant_ids)})
        return [KnownParticipant(*row) for row in rows]

    async def set_recording_seqs(self, last: Mapping[str, int]) -> None:
        """Store each participant's last recording sequence number (read with ``known(for_update=True)``
        in the same transaction)."""
        if not last:
            return
        await self.session.execute(
            _SET_RECORDING_SEQ, [{"pid": pid, "last": value} for pid, value in last.items()]
        )


# A status record's columns, in the order insert_many takes them.
RECORD_COLUMNS = tuple(column.name for column in cast(Table, StatusRecordRow.__table__).columns)
# COPY on PostgreSQL for a batch's records (from COPY_FROM_ROWS rows on).
_INSERT_RECORDS = BulkStatement.insert(cast(Table, StatusRecordRow.__table__), RECORD_COLUMNS, copy=True)
_record_values = attrgetter(*RECORD_COLUMNS)


class StatusRecordRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def for_participant(self, participant_id: str) -> Sequence[StatusRecordRow]:
        query = (
            select(StatusRecordRow)
            .where(StatusRecordRow.participant_id == participant_id)
            .order_by(StatusRecordRow.recording_seq)
        )
        return (await self.session.scalars(query)).all()

    async def by_ids(self, record_ids: Iterable[str]) -> list[StatusRecordRow]:
        if self.session.get_bind().dialect.name == "postgresql":
            return list((await self.session.scalars(_BY_IDS_PG, {"record_id": list(record_ids)})).all())
        query = select(StatusRecordRow).where(StatusRecordRow.record_id.in_(list(record_ids)))
        return list((await self.session.scalars(query)).all())

    async def by_source_ids(
        self, programme_source_ids: Iterable[tuple[str, str]]
    ) -> dict[tuple[str, str], StatusRecordRow]:
        pairs = set(programme_source_ids)
        if not pairs:
            return {}
        found = {}
        if self.session.get_bind().dialect.name == "postgresql":
            query = _BY_SOURCE_IDS_PG
            programmes, sources = zip(*pairs, strict=True)
            wanted = {"programme_id": list(programmes), "source_record_id": list(sources)}
        else:
            query = _BY_SOURCE_IDS
            wanted = {
                "programmes": list({programme for programme, _ in pairs}),
                "sources": list({source for _, source in pairs}),
            }
        for row in await self.session.scalars(query, wanted):
            key = (row.programme_id, row.source_record_id or "")
            if key in pairs:
                found[key] = row
        return found

    async def insert_many(self, records: Sequence[Any]) -> None:
        """One executemany for the whole batch, of each record's attributes named like the columns: no
        ORM objects, no parameter dict per record."""
        await _INSERT_RECORDS.run(self.session, [_record_values(record) for record in records])


class BatchRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def get(self, actor: str, key: str) -> BatchRequestRow | None:
        return await self.session.get(BatchRequestRow, (actor, key))

    async def existing(self, keys: Iterable[tuple[str, str]]) -> set[tuple[str, str]]:
        wanted = set(keys)
        if not wanted:
            return set()
        rows = await self.session.execute(
            select(BatchRequestRow.actor, BatchRequestRow.key).where(
                BatchRequestRow.key.in_({key for _, key in wanted})
            )
        )
        return {(actor, key) for actor, key in rows if (actor, key) in wanted}

    def add(self, row: BatchRequestRow) -> None:
        self.session.add(row)


class ProviderRecordsRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    def add(self, row: MeasurementRow | MilestoneRow) -> None:
        self.session.add(row)

    async def measurements(self, participant_id: str) -> Sequence[MeasurementRow]:
        query = (
            select(MeasurementRow)
            .where(MeasurementRow.participant_id == participant_id)
            .order_by(MeasurementRow.measured_on, MeasurementRow.recorded_at)
        )
        return (await self.session.scalars(query)).all()

    async def milestones(self, participant_id: str) -> Sequence[MilestoneRow]:
        query = (
            select(MilestoneRow)
            .where(MilestoneRow.participant_id == participant_id)
            .order_by(MilestoneRow.on, MilestoneRow.recorded_at)
        )
        return (await self.session.scalars(query)).all()
