"""``dead-letters`` and ``redrive``: list a service's dead letters, and apply them again after a fix."""

from __future__ import annotations

from collections.abc import Sequence

from deploy.ops.services import ServiceOps, connect, operator_settings
from libs.common.db import Database
from libs.common.deadletters import list_dead_letters, redrive
from libs.common.migrations import upgrade_head_async


async def cmd_dead_letters(ops: ServiceOps, consumer: str | None) -> int:
    settings = operator_settings(ops)
    client, js = await connect(settings)
    try:
        letters = await list_dead_letters(js, settings, consumer=consumer, limit=100_000)
    finally:
        await client.close()
    for letter in letters:
        print(
            f"{letter.id:>6}  {letter.failed_at[:19]}  {letter.consumer:<26} {letter.event_type}"
            f"  event {letter.event_id}  after {letter.deliveries} deliveries: {letter.error}"
        )
    print(f"{len(letters)} dead letter(s) in {ops.name}")
    return 0


async def cmd_redrive(ops: ServiceOps, ids: Sequence[int], consumer: str | None) -> int:
    settings = operator_settings(ops)
    await upgrade_head_async(settings, ops.migrations_dir)
    database = Database(settings)
    client, js = await connect(settings)
    try:
        results = await redrive(database, js, ops.consumers, ids=ids or None, consumer=consumer)
    finally:
        await client.close()
        await database.dispose()
    for result in results:
        detail = f": {result.error}" if result.error else ""
        print(f"{result.id:>6}  {result.consumer:<26} {result.outcome}{detail}")
    failed = [r for r in results if r.outcome not in ("applied", "duplicate")]
    print(f"{len(results) - len(failed)} re-driven, {len(failed)} still failing")
    return 1 if failed else 0
