"""record_sequences (settlement_0009): per participant the records held and the highest
recording_seq, filled by the migration from the records already held and kept as records are
stored, so it always equals counting status_records (which the gap check used to do)."""

from __future__ import annotations

import asyncio
from datetime import UTC, date, datetime
from typing import Any

import pytest
from alembic import command
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import text

from libs.common.db import Database, create_engine
from libs.common.migrations import alembic_config, upgrade_head
from libs.common.uow import UnitOfWork
from services.settlement.main import MIGRATIONS
from services.settlement.repository import FactsRepository
from services.settlement.services.facts import FactsBatch, insert_queued_records, note_gaps, queue_record
from services.settlement.settings import SettlementSettings

COUNTED = (
    "SELECT participant_id, count(*), max(recording_seq) FROM status_records"
    " GROUP BY participant_id ORDER BY participant_id"
)
CLEAR = ("DELETE FROM status_records", "DELETE FROM record_sequences", "DELETE FROM sequence_gaps")
KEPT = "SELECT participant_id, records_held, highest_seq FROM record_sequences ORDER BY participant_id"


async def rows(settings_: SettlementSettings, sql: str) -> list[tuple[Any, ...]]:
    engine = create_engine(settings_)
    try:
        async with engine.begin() as connection:
            result = await connection.execute(text(sql))
            return [tuple(row) for row in result.all()] if result.returns_rows else []
    finally:
        await engine.dispose()


def test_the_migration_counts_the_records_already_held(database: dict[str, Any]) -> None:
    settings_ = SettlementSettings(sib_env="test", **database)
    command.upgrade(alembic_config(settings_, MIGRATIONS), "settlement_0008")
    # p1: 1, 2, 3; p2: 1, 4 (a hole); p3: 2 (a hole)
    insert_sql = (
        "INSERT INTO status_records (record_id, participant_id, programme_id, code, valid_from,"
        " valid_to, recording_seq, recorded_at) VALUES"
        " ('r11', 'p1', 'prog', 'employed', '2024-01-01', NULL, 1, '2024-02-01 00:00:00'),"
        " ('r12', 'p1', 'prog', 'employed', '2024-01-02', NULL, 2, '2024-02-01 00:00:00'),"
        " ('r13', 'p1', 'prog', 'employed', '2024-01-03', NULL, 3, '2024-02-01 00:00:00'),"
        " ('r21', 'p2', 'prog', 'employed', '2024-01-01', NULL, 1, '2024-02-01 00:00:00'),"
        " ('r24', 'p2', 'prog', 'employed', '2024-01-04', NULL, 4, '2024-02-01 00:00:00'),"
        " ('r32', 'p3', 'prog', 'employed', '2024-01-02', NULL, 2, '2024-02-01 00:00:00')"
    )
    asyncio.run(rows(settings_, insert_sql))
    upgrade_head(settings_, MIGRATIONS)
    assert asyncio.run(rows(settings_, KEPT)) == [("p1", 3, 3), ("p2", 2, 4), ("p3", 1, 2)]
    command.downgrade(alembic_config(settings_, MIGRATIONS), "settlement_0008")


# Batches of (participant, seq) records, some repeated within and across batches (a redelivery or a
# resync of a record already held), in any order.
batches = st.lists(
    st.lists(st.tuples(st.sampled_from(["a", "b", "c"]), st.integers(min_value=1, max_value=8)), max_size=12),
    min_size=1,
    max_size=5,
)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(batches=batches)
@pytest.mark.slow_on("postgresql")  # the SQLite run stays in make test
def test_the_counts_kept_equal_counting_the_records_and_the_gaps_follow(
    database: dict[str, Any], batches: list[list[tuple[str, int]]]
) -> None:
    settings_ = SettlementSettings(sib_env="test", **database)
    upgrade_head(settings_, MIGRATIONS)

    async def run() -> tuple[list[Any], list[Any], set[str]]:
        db = Database(settings_)
        try:
            async with UnitOfWork(db) as uow:  # each example starts from nothing
                for statement in CLEAR:
                    await uow.session.execute(text(statement))
                await uow.commit()
            for batch in batches:
                async with UnitOfWork(db) as uow:
                    queued = FactsBatch()
                    for pid, seq in batch:
                        queue_record(queued, {
                            "record_id": f"{pid}-{seq}", "participant_id": pid, "programme_id": "prog",
                            "code": "employed", "valid_from": date(2024, 1, seq), "valid_to": None,
                            "recording_seq": seq, "recorded_at": datetime(2024, 2, 1, tzinfo=UTC),
                        })  # fmt: skip
                    await insert_queued_records(uow, queued)
                    await note_gaps(uow, {pid for pid, _ in batch})
                    await uow.commit()
            async with UnitOfWork(db, read_only=True) as uow:
                gaps = set(await FactsRepository(uow.session).gaps_among({"a", "b", "c"}))
        finally:
            await db.dispose()
        return await rows(settings_, COUNTED), await rows(settings_, KEPT), gaps

    counted, kept, gaps = asyncio.run(run())
    assert kept == counted
    held: dict[str, set[int]] = {}
    for batch in batches:
        for pid, seq in batch:
            held.setdefault(pid, set()).add(seq)
    assert kept == [(pid, len(seqs), max(seqs)) for pid, seqs in sorted(held.items())]
    assert gaps == {pid for pid, seqs in held.items() if len(seqs) < max(seqs)}
