"""A statement's lines go out in statement.lines.v1 parts before its statement.issued.v2; a rebuild
restores the statement from them, identical, and refuses one whose parts do not hash to its sha256 or
that is missing a part. SQLite files, no NATS: the events are taken from the outbox."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from bench.scale import PROGRAMME, load
from libs.common.auth import Principal, Role
from libs.common.contracts import StatementIssuedV2, StatementLinesV1
from libs.common.db import Database, messaging_metadata, outbox_table
from libs.common.events import CloudEvent, parse_payload
from libs.common.uow import UnitOfWork
from services.settlement.domain import content_hash
from services.settlement.handlers import on_statement_issued
from services.settlement.models import Base, StatementLineRow, StatementRow
from services.settlement.services import statements
from services.settlement.services.months import recompute_programme
from services.settlement.settings import SettlementSettings
from tests.issuing import issue_direct

ADMIN = Principal("test", Role.admin, frozenset({"*"}))
INVESTOR = Principal("investor", Role.investor, frozenset({PROGRAMME}))


async def empty_database(directory: Path) -> Database:
    database = Database(SettlementSettings(sib_env="test", var_dir=directory))
    async with database.engine.begin() as connection:
        await connection.run_sync(Base.metadata.create_all)
        await connection.run_sync(messaging_metadata.create_all)
    return database


@pytest.fixture
async def live(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[Database]:
    monkeypatch.setattr(statements.issue, "LINES_PER_PART", 100)  # where the writer reads it
    database = await empty_database(tmp_path / "live")
    await load(database, 30)  # 30 citizens, 24 months of statuses each
    async with UnitOfWork(database) as uow:
        await recompute_programme(uow, PROGRAMME)
        await uow.commit()
    yield database
    await database.dispose()


async def statement_events(database: Database) -> list[CloudEvent]:
    async with UnitOfWork(database) as uow:
        rows = (await uow.session.execute(select(outbox_table.c.envelope).order_by(outbox_table.c.seq))).all()
    events = [CloudEvent.from_json_bytes(row.envelope.encode()) for row in rows]
    # The lines and the statement (a rebuild reads only these), not the draft's and approval's events.
    return [
        event for event in events if ".statement.lines." in event.type or ".statement.issued." in event.type
    ]


async def replay(database: Database, events: list[CloudEvent]) -> None:
    for event in events:
        async with UnitOfWork(database) as uow:
            await on_statement_issued(uow, event, parse_payload(event))
            await uow.commit()


async def stored(database: Database) -> tuple[list[Any], list[Any]]:
    async with UnitOfWork(database) as uow:
        rows = [
            (r.statement_id, r.period, r.content, r.sha256, r.line_count)
            for r in (await uow.session.scalars(select(StatementRow).order_by(StatementRow.period))).all()
        ]
        line_columns = [c for c in StatementLineRow.__table__.columns]
        lines = (await uow.session.execute(select(*line_columns).order_by(*line_columns[:2]))).all()
    return rows, [tuple(line) for line in lines]


async def test_lines_go_out_in_parts_and_a_rebuild_restores_the_statement(
    live: Database, tmp_path: Path
) -> None:
    first = await issue_direct(live, ADMIN, PROGRAMME, "2026-04")
    assert first.created and first.statement.line_count > 300
    again = await issue_direct(live, ADMIN, PROGRAMME, "2026-04")
    assert not again.created and again.statement.sha256 == first.statement.sha256

    events = await statement_events(live)
    *parts, issued = [parse_payload(event) for event in events]
    assert isinstance(issued, StatementIssuedV2) and all(isinstance(p, StatementLinesV1) for p in parts)
    assert issued.parts == len(parts) == -(-first.statement.line_count // 100)
    assert [p.first_line_no for p in parts] == [1 + 100 * n for n in range(len(parts))]  # type: ignore[attr-defined]
    assert all(len(event.to_json_bytes()) < 1_000_000 for event in events)

    # The document served (the lines read back from statement_lines) hashes to the sha256, as
    # content_hash of a whole document always has.
    document = await statements.get_statement(live, ADMIN, first.statement.statement_id)
    assert content_hash({k: document[k] for k in document["hashed"]}) == document["sha256"]
    assert len(document["lines"]) == first.statement.line_count
    as_investor = await statements.get_statement(live, INVESTOR, first.statement.statement_id)
    assert as_investor["sha256"] == document["sha256"]
    assert all("participant_id" not in line for line in as_investor["lines"])

    rebuilt = await empty_database(tmp_path / "rebuilt")
    try:
        await replay(rebuilt, events)
        await replay(rebuilt, events)  # a repeat changes nothing
        assert await stored(rebuilt) == await stored(live)
    finally:
        await rebuilt.dispose()


async def test_a_rebuild_refuses_parts_that_do_not_hash_or_a_missing_part(
    live: Database, tmp_path: Path
) -> None:
    await issue_direct(live, ADMIN, PROGRAMME, "2026-04")
    events = await statement_events(live)
    tampered = events[1].model_copy(deep=True)
    tampered.data["lines"][0][3] = "1.00"
    for number, forged in enumerate([[events[0], tampered, *events[2:]], [events[0], *events[2:]]]):
        rebuilt = await empty_database(tmp_path / f"rebuilt-{number}")
        try:
            with pytest.raises(ValueError, match="sha256" if number == 0 else "parts of lines"):
                await replay(rebuilt, forged)
            assert await stored(rebuilt) == ([], [])  # nothing of the statement is stored
        finally:
            await rebuilt.dispose()


async def test_a_second_statement_adjusts_what_the_first_invoiced(live: Database) -> None:
    first = await issue_direct(live, ADMIN, PROGRAMME, "2026-04")
    document = await statements.get_statement(live, ADMIN, first.statement.statement_id)
    line = next(line for line in document["lines"] if line["kind"] == "fee")
    async with UnitOfWork(live) as uow:
        await uow.session.execute(
            Base.metadata.tables["participant_months"]
            .update()
            .where(
                Base.metadata.tables["participant_months"].c.participant_id == line["participant_id"],
                Base.metadata.tables["participant_months"].c.month == line["month"],
            )
            .values(fee_dkk="0.00")
        )
        await uow.commit()
    second = await issue_direct(live, ADMIN, PROGRAMME, "2026-05")
    lines = (await statements.get_statement(live, ADMIN, second.statement.statement_id))["lines"]
    adjustment = next(item for item in lines if item["kind"] == "adjustment")
    assert (adjustment["participant_id"], adjustment["month"], adjustment["amount_dkk"]) == (
        line["participant_id"],
        line["month"],
        "-" + line["amount_dkk"],
    )
    assert (adjustment["corrects_statement_id"], adjustment["corrects_line_no"]) == (
        first.statement.statement_id,
        line["line_no"],
    )
