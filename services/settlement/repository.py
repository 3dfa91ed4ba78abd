"""Settlement's queries: add and flush, never commit."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from datetime import date, datetime
from decimal import Decimal
from operator import itemgetter
from typing import Any, cast

from sqlalchemy import String, Table, bindparam, delete, func, insert, or_, select, type_coerce, update
from sqlalchemy.ext.asyncio import AsyncSession

from libs.common.bulk import BulkStatement, memoised
from libs.common.db import ORE, each_key_lookup
from services.settlement.domain.calculation import SpanTuple
from services.settlement.models import (
    CutoffRow,
    MonthRow,
    ParticipantRow,
    ProgrammeTermsRow,
    RecordSequenceRow,
    SequenceGapRow,
    StatementLineRow,
    StatementRow,
    StatusRecordRow,
)


class TermsRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def get(self, programme_id: str, version: int) -> ProgrammeTermsRow | None:
        return await self.session.get(ProgrammeTermsRow, (programme_id, version))

    async def versions(self, programme_id: str) -> Sequence[ProgrammeTermsRow]:
        query = (
            select(ProgrammeTermsRow)
            .where(ProgrammeTermsRow.programme_id == programme_id)
            .order_by(ProgrammeTermsRow.version)
        )
        return (await self.session.scalars(query)).all()

    def add(self, row: ProgrammeTermsRow) -> None:
        self.session.add(row)


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
        with ``record_id IN (...)`` the catch-up of 100,000 events spent 800 ms per 500 ids in a plan
        cached while the table was small."""
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
        suspends by itself), and without an ORM object per record, which cost three times as long."""
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

    async def spans_of(
        self, participant_ids: Sequence[str], between: tuple[date, date] | None = None
    ) -> dict[str, list[SpanTuple]]:
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
        grouped: dict[str, list[SpanTuple]] = {}
        for pid, code, valid_from, valid_to, seq in (await self.session.execute(query)).all():
            grouped.setdefault(pid, []).append((code, valid_from, valid_to, seq))
        for spans in grouped.values():
            spans.sort(key=_seq)
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


# What the months need of a participant and of a record (Core rows, no ORM objects).
EnrolmentRow = tuple[str, str, str, date | None, date | None]
RecordTuple = tuple[str, str, date, date | None, int, datetime]
RECORDS_PER_PARTITION = 2000


def _seq(span: SpanTuple) -> int:
    return span[3]


# participant_months' computed columns, in the order ``figures_of`` returns them.
MONTH_VALUES = (
    "in_window_days",
    "self_supporting_days",
    "public_support_days",
    "unknown_days",
    "provisional",
    "fee_dkk",
    "rule",
    "fee_per_month_dkk",
    "terms_version",
    "cutoff_used",
)
_months = cast(Table, MonthRow.__table__)
# A month row as the recompute hands it over: every column of participant_months, in this order.
MONTH_ROW = ("participant_id", "month", "programme_id", *MONTH_VALUES, "computed_at")
_DELETE_MONTH = delete(_months).where(
    _months.c.participant_id == bindparam("key_participant_id"), _months.c.month == bindparam("key_month")
)


_AMOUNTS = ("fee_dkk", "fee_per_month_dkk")


def _to_amount(value: Any) -> Decimal:
    """A stored amount (text on SQLite, numeric on PostgreSQL) as Money reads it back."""
    return Decimal(str(value)).quantize(ORE)


_INSERT_MONTHS = BulkStatement(
    insert(_months).values({name: bindparam(name) for name in MONTH_ROW}),
    {name: index for index, name in enumerate(MONTH_ROW)},
    copy_into=_months.name,
)
_UPDATE_MONTHS = BulkStatement(
    update(_months)
    .where(
        _months.c.participant_id == bindparam("key_participant_id"), _months.c.month == bindparam("key_month")
    )
    .values({name: bindparam(f"new_{name}") for name in MONTH_ROW[2:]}),
    {"key_participant_id": 0, "key_month": 1}
    | {f"new_{name}": MONTH_ROW.index(name) for name in MONTH_ROW[2:]},
)


class MonthRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def figures_of(
        self, participant_ids: Sequence[str], between: tuple[str, str] | None = None
    ) -> dict[str, dict[str, tuple[Any, ...]]]:
        """Per participant and month (``YYYY-MM``) the stored figures as a tuple in ``MONTH_VALUES``
        order; with ``between`` only the months in that range (inclusive)."""
        # The two amounts come raw and are made Decimals once per distinct value (as Money would).
        columns = [
            type_coerce(_months.c[name], String) if name in _AMOUNTS else _months.c[name]
            for name in MONTH_VALUES
        ]
        query = select(_months.c.participant_id, _months.c.month, *columns).where(
            _months.c.participant_id.in_(list(participant_ids))
        )
        if between is not None:
            query = query.where(_months.c.month >= between[0], _months.c.month <= between[1])
        grouped: dict[str, dict[str, tuple[Any, ...]]] = {}
        amount = memoised(_to_amount)
        for pid, month, a, b, c, d, e, fee, g, per_month, i, j in (await self.session.execute(query)).all():
            grouped.setdefault(pid, {})[month] = (a, b, c, d, e, amount(fee), g, amount(per_month), i, j)
        return grouped

    async def insert_many(self, rows: Sequence[tuple[Any, ...]]) -> None:
        """New months, as tuples in ``MONTH_ROW`` order: one executemany (one COPY on PostgreSQL)."""
        await _INSERT_MONTHS.run(self.session, rows)

    async def update_many(self, rows: Sequence[tuple[Any, ...]]) -> None:
        """Changed months by key, as tuples in ``MONTH_ROW`` order: one executemany."""
        await _UPDATE_MONTHS.run(self.session, rows)

    async def remove_many(self, keys: list[tuple[str, str]]) -> None:
        if keys:
            await self.session.execute(
                _DELETE_MONTH, [{"key_participant_id": pid, "key_month": month} for pid, month in keys]
            )

    async def of_participant(self, participant_id: str) -> dict[str, MonthRow]:
        query = select(MonthRow).where(MonthRow.participant_id == participant_id)
        return {row.month: row for row in await self.session.scalars(query)}

    async def of_participants(self, participant_ids: Sequence[str]) -> dict[str, dict[str, MonthRow]]:
        query = select(MonthRow).where(MonthRow.participant_id.in_(list(participant_ids)))
        grouped: dict[str, dict[str, MonthRow]] = {}
        for row in (await self.session.scalars(query)).all():
            grouped.setdefault(row.participant_id, {})[row.month] = row
        return grouped

    async def of_programme(self, programme_id: str) -> Sequence[MonthRow]:
        return (
            await self.session.scalars(select(MonthRow).where(MonthRow.programme_id == programme_id))
        ).all()

    async def fees_of_programme(self, programme_id: str) -> list[tuple[Decimal, bool]]:
        """(fee_dkk, provisional) of every month of the programme: what the summaries add up, without
        an ORM object per month."""
        query = select(MonthRow.fee_dkk, MonthRow.provisional).where(MonthRow.programme_id == programme_id)
        return [(fee, provisional) for fee, provisional in (await self.session.execute(query)).all()]

    def add(self, row: MonthRow) -> None:
        self.session.add(row)

    async def remove(self, participant_id: str, months: Sequence[str]) -> None:
        if months:
            await self.session.execute(
                delete(MonthRow).where(MonthRow.participant_id == participant_id, MonthRow.month.in_(months))
            )


class StatementRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def get(self, statement_id: str) -> StatementRow | None:
        return await self.session.get(StatementRow, statement_id)

    async def for_period(self, programme_id: str, period: str) -> StatementRow | None:
        query = select(StatementRow).where(
            StatementRow.programme_id == programme_id, StatementRow.period == period
        )
        return (await self.session.scalars(query)).first()

    async def of_programme(self, programme_id: str) -> Sequence[StatementRow]:
        query = (
            select(StatementRow)
            .where(StatementRow.programme_id == programme_id)
            .order_by(StatementRow.period)
        )
        return (await self.session.scalars(query)).all()

    async def latest_period(self, programme_id: str) -> str | None:
        query = select(func.max(StatementRow.period)).where(StatementRow.programme_id == programme_id)
        return (await self.session.execute(query)).scalar_one_or_none()

    async def lines_of_programme(self, programme_id: str) -> Sequence[tuple[StatementLineRow, str]]:
        """Every issued line with its statement's period, in issue order."""
        query = (
            select(StatementLineRow, StatementRow.period)
            .join(StatementRow, StatementRow.statement_id == StatementLineRow.statement_id)
            .where(StatementLineRow.programme_id == programme_id)
            .order_by(StatementRow.period, StatementLineRow.line_no)
        )
        return [(line, period) for line, period in (await self.session.execute(query)).all()]

    async def lines(self, statement_id: str) -> Sequence[StatementLineRow]:
        query = (
            select(StatementLineRow)
            .where(StatementLineRow.statement_id == statement_id)
            .order_by(StatementLineRow.line_no)
        )
        return (await self.session.scalars(query)).all()

    def add(self, row: StatementRow | StatementLineRow) -> None:
        self.session.add(row)

    async def flush(self) -> None:
        await self.session.flush()
