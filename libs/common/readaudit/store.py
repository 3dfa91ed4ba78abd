"""The read audit's tables in every service's database, and what is done with them: append a row
(chained to the one before), read a page, verify the whole chain, and null a participant's ids
(an erasure) without breaking it.

Three tables: ``read_audit`` (a row per read), ``read_audit_subjects`` (the participants a read named:
the id, NULL once erased, and its digest, which the chain covers) and ``read_audit_head`` (one row: the
last seq and hash; appends lock it, so rows are chained in order on PostgreSQL too). Triggers refuse
every UPDATE and DELETE but an append's move of the head and an erasure's nulling of an id."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    Column,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    insert,
    select,
    update,
)
from sqlalchemy.ext.asyncio import AsyncSession

from libs.common.clock import as_utc, utcnow
from libs.common.db import Database, make_metadata
from libs.common.readaudit.chain import (
    GENESIS,
    Break,
    ChainChecker,
    ChainRow,
    participant_digest,
    row_hash,
)
from libs.common.uow import UnitOfWork

CHAIN = "reads"
READ_AUDIT_HEAD = "read_audit_head"
# In foreign-key order (what a rebuild carries over, deploy/ops).
READ_AUDIT_TABLES = ("read_audit", "read_audit_subjects", READ_AUDIT_HEAD)


@dataclass(frozen=True)
class ReadAuditTables:
    rows: Table
    subjects: Table
    head: Table


def read_audit_tables(metadata: MetaData) -> ReadAuditTables:
    """The read audit's tables in ``metadata`` (each service adds them to its own)."""
    rows = Table(
        "read_audit",
        metadata,
        Column("seq", BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=False),
        Column("at", DateTime(timezone=True), nullable=False),
        Column("sub", String(200), nullable=False),
        Column("role", String(32), nullable=False),
        Column("route", String(200), nullable=False),
        Column("programme_id", String(64), nullable=True),
        Column("trace_id", String(32), nullable=True),
        Column("prev_hash", String(64), nullable=False),
        Column("hash", String(64), nullable=False),
    )
    # A programme's rows in order: the jobcenter's and the auditor's reads of the audit.
    Index("ix_read_audit_programme_id_seq", rows.c.programme_id, rows.c.seq)
    subjects = Table(
        "read_audit_subjects",
        metadata,
        Column(
            "seq",
            BigInteger().with_variant(Integer, "sqlite"),
            ForeignKey("read_audit.seq"),
            primary_key=True,
        ),
        Column("position", Integer, primary_key=True, autoincrement=False),
        Column("participant_id", String(36), nullable=True, index=True),
        Column("digest", String(64), nullable=False),
    )
    head = Table(
        "read_audit_head",
        metadata,
        Column("chain", String(16), primary_key=True),
        Column("seq", BigInteger, nullable=False),
        Column("hash", String(64), nullable=False),
    )
    return ReadAuditTables(rows, subjects, head)


# The same tables, for the statements here: each service's database has them (its migration made them).
TABLES = read_audit_tables(make_metadata())


@dataclass(frozen=True, slots=True)
class ReadEntry:
    """One read as recorded: who, where, which programme and participants, which trace."""

    sub: str
    role: str
    route: str
    programme_id: str | None
    participant_ids: tuple[str, ...]
    trace_id: str | None


@dataclass(frozen=True, slots=True)
class ReadAuditRow:
    seq: int
    at: datetime  # UTC
    sub: str
    role: str
    route: str
    programme_id: str | None
    participant_ids: tuple[str | None, ...]  # None where erased
    trace_id: str | None
    prev_hash: str
    hash: str


async def append(database: Database, entry: ReadEntry) -> int:
    """Write ``entry`` as the chain's next row, in a transaction of its own; its seq."""
    t = TABLES
    digests = [participant_digest(p) for p in entry.participant_ids]
    async with UnitOfWork(database) as uow:
        session = uow.session
        # PostgreSQL: every append queues on the head's row lock, so seq and prev_hash follow commit
        # order; SQLite's writer is one at a time already (BEGIN IMMEDIATE).
        head = (
            await session.execute(
                select(t.head.c.seq, t.head.c.hash).where(t.head.c.chain == CHAIN).with_for_update()
            )
        ).first()
        if head is None:
            prev_seq, prev_hash = 0, GENESIS
            await session.execute(insert(t.head).values(chain=CHAIN, seq=0, hash=GENESIS))
        else:
            prev_seq, prev_hash = int(head.seq), str(head.hash)
        seq, at = prev_seq + 1, utcnow()
        digest = row_hash(
            seq=seq,
            at=at,
            sub=entry.sub,
            role=entry.role,
            route=entry.route,
            programme_id=entry.programme_id,
            trace_id=entry.trace_id,
            digests=digests,
            prev_hash=prev_hash,
        )
        await session.execute(
            insert(t.rows).values(
                seq=seq,
                at=at,
                sub=entry.sub,
                role=entry.role,
                route=entry.route,
                programme_id=entry.programme_id,
                trace_id=entry.trace_id,
                prev_hash=prev_hash,
                hash=digest,
            )
        )
        if digests:
            await session.execute(
                insert(t.subjects),
                [
                    {"seq": seq, "position": i, "participant_id": p.lower(), "digest": d}
                    for i, (p, d) in enumerate(zip(entry.participant_ids, digests, strict=True))
                ],
            )
        await session.execute(update(t.head).where(t.head.c.chain == CHAIN).values(seq=seq, hash=digest))
        await uow.commit()
    return seq


async def _subjects_of(session: AsyncSession, seqs: Sequence[int]) -> dict[int, list[Any]]:
    found: dict[int, list[Any]] = {seq: [] for seq in seqs}
    if not seqs:
        return found
    s = TABLES.subjects
    rows = await session.execute(
        select(s.c.seq, s.c.participant_id, s.c.digest)
        # The rows asked for only: a filtered page's rows can lie far apart, and a range would read
        # every row's subjects between them.
        .where(s.c.seq.in_(list(seqs)))
        .order_by(s.c.seq, s.c.position)
    )
    for row in rows:
        if row.seq in found:
            found[row.seq].append(row)
    return found


async def page(
    session: AsyncSession,
    *,
    programme_ids: Sequence[str] | None,
    participant_id: str | None,
    start: datetime | None,
    end: datetime | None,
    after: int | None,
    limit: int,
) -> list[ReadAuditRow]:
    """Rows in ``seq`` order after ``after``: of these programmes (None: every programme), naming this
    participant, at or after ``start`` and before ``end``."""
    r, s = TABLES.rows, TABLES.subjects
    query = select(r).order_by(r.c.seq).limit(limit)
    if programme_ids is not None:
        query = query.where(r.c.programme_id.in_(list(programme_ids)))
    if participant_id is not None:
        query = query.where(r.c.seq.in_(select(s.c.seq).where(s.c.participant_id == participant_id.lower())))
    if start is not None:
        query = query.where(r.c.at >= start)
    if end is not None:
        query = query.where(r.c.at < end)
    if after is not None:
        query = query.where(r.c.seq > after)
    rows = (await session.execute(query)).all()
    subjects = await _subjects_of(session, [row.seq for row in rows])
    return [
        ReadAuditRow(
            seq=row.seq,
            at=as_utc(row.at),
            sub=row.sub,
            role=row.role,
            route=row.route,
            programme_id=row.programme_id,
            participant_ids=tuple(x.participant_id for x in subjects[row.seq]),
            trace_id=row.trace_id,
            prev_hash=row.prev_hash,
            hash=row.hash,
        )
        for row in rows
    ]


@dataclass(frozen=True, slots=True)
class Verification:
    checked: int
    broken: Break | None

    @property
    def intact(self) -> bool:
        return self.broken is None


async def verify(database: Database, batch: int = 5000) -> Verification:
    """Walk the whole chain in ``seq`` order; the number of rows that verified and the first that did
    not (None: intact)."""
    r = TABLES.rows
    checker = ChainChecker()
    after = 0
    async with database.read_sessionmaker() as session:
        while checker.broken is None:
            rows = (
                await session.execute(select(r).where(r.c.seq > after).order_by(r.c.seq).limit(batch))
            ).all()
            if not rows:
                break
            subjects = await _subjects_of(session, [row.seq for row in rows])
            checker.feed(
                ChainRow(
                    seq=row.seq,
                    at=as_utc(row.at),
                    sub=row.sub,
                    role=row.role,
                    route=row.route,
                    programme_id=row.programme_id,
                    trace_id=row.trace_id,
                    digests=tuple(x.digest for x in subjects[row.seq]),
                    prev_hash=row.prev_hash,
                    hash=row.hash,
                    participant_ids=tuple(x.participant_id for x in subjects[row.seq]),
                )
                for row in rows
            )
            after = rows[-1].seq
        h = TABLES.head
        head = (await session.execute(select(h.c.seq, h.c.hash).where(h.c.chain == CHAIN))).first()
    broken = checker.finish(None if head is None else int(head.seq), None if head is None else str(head.hash))
    return Verification(checker.checked, broken)


async def redact_participant(session: AsyncSession, participant_id: str) -> int:
    """Null this participant's id in every audit row naming it (an erasure), in the caller's
    transaction; the digests stay, so the chain still verifies. The number of ids nulled."""
    s = TABLES.subjects
    result = await session.execute(
        update(s)
        .where(s.c.participant_id == participant_id.lower())
        .values(participant_id=None)
        .execution_options(synchronize_session=False)
    )
    return int(getattr(result, "rowcount", 0) or 0)
