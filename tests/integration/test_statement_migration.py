"""settlement_0006 moves a statement's lines out of its content (issued when the content held them):
statement_lines is written from the hashed document, the content keeps the rest with line_count, and
the document served still hashes to the sha256 it was issued with; the downgrade puts them back."""

from __future__ import annotations

import asyncio
import json
from typing import Any

from alembic import command
from sqlalchemy import text

from libs.common.auth import Principal, Role
from libs.common.db import Database, create_engine
from libs.common.migrations import alembic_config, upgrade_head
from services.settlement.domain import content_hash
from services.settlement.main import MIGRATIONS
from services.settlement.services import statements
from services.settlement.settings import SettlementSettings

LINES = [
    {"line_no": 1, "kind": "fee", "participant_id": "p1", "month": "2024-05", "amount_dkk": "3500.00",
     "corrects_statement_id": None, "corrects_line_no": None},
    {"line_no": 2, "kind": "cap", "participant_id": None, "month": None, "amount_dkk": "-500.00",
     "corrects_statement_id": None, "corrects_line_no": None},
]  # fmt: skip
CONTENT: dict[str, Any] = {
    "statement_id": "s1",
    "programme_id": "prog",
    "period": "2024-08",
    "covers_through": "2024-06",
    "issued_at": "2024-08-01T09:00:00+00:00",
    "terms_version": 1,
    "lines": LINES,
    "totals": {"net": "3000.00"},
}


async def execute(settings: SettlementSettings, *statements_: str, **params: Any) -> list[Any]:
    engine = create_engine(settings)
    try:
        async with engine.begin() as connection:
            result = None
            for sql in statements_:
                result = await connection.execute(text(sql), params)
            return list(result.all()) if result is not None and result.returns_rows else []
    finally:
        await engine.dispose()


def test_the_lines_move_out_of_the_content_and_the_hash_still_holds(database: dict[str, Any]) -> None:
    settings = SettlementSettings(sib_env="test", **database)
    config = alembic_config(settings, MIGRATIONS)
    command.upgrade(config, "settlement_0005")
    sha = content_hash(CONTENT)
    asyncio.run(
        execute(
            settings,
            "INSERT INTO statements (statement_id, programme_id, period, covers_through, issued_at, issued_by,"
            " content, sha256) VALUES ('s1', 'prog', '2024-08', '2024-06', '2024-08-01 09:00:00+00:00',"
            " 'someone', :content, :sha)",
            content=json.dumps(CONTENT),
            sha=sha,
        )
    )
    upgrade_head(settings, MIGRATIONS)

    async def served() -> dict[str, Any]:
        database = Database(settings)
        try:
            return await statements.get_statement(
                database, Principal("a", Role.admin, frozenset({"*"})), "s1"
            )
        finally:
            await database.dispose()

    document = asyncio.run(served())
    assert document["lines"] == LINES and document["sha256"] == sha
    # Issued before drafts: its issued_at is hashed; settlement_0014 numbered it, outside the hash.
    assert "issued_at" in document["hashed"] and "number" not in document["hashed"]
    assert content_hash({k: document[k] for k in document["hashed"]}) == sha and document["number"] == 1
    [(line_count, content)] = asyncio.run(execute(settings, "SELECT line_count, content FROM statements"))
    assert line_count == 2 and "lines" not in (json.loads(content) if isinstance(content, str) else content)

    command.downgrade(config, "settlement_0005")
    [(content,)] = asyncio.run(execute(settings, "SELECT content FROM statements"))
    assert (json.loads(content) if isinstance(content, str) else content) == CONTENT
    command.downgrade(config, "base")
