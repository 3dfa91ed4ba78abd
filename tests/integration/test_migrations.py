"""Each service's Alembic migrations build exactly the tables its models declare, on SQLite and
PostgreSQL, and can be undone."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import MetaData, inspect
from sqlalchemy.engine import Connection

from libs.common.db import create_engine, messaging_metadata
from libs.common.migrations import alembic_config, upgrade_head
from libs.common.settings import CommonSettings
from services.intake.main import MIGRATIONS as INTAKE_MIGRATIONS
from services.intake.models import Base as IntakeBase
from services.progression.main import MIGRATIONS as PROGRESSION_MIGRATIONS
from services.progression.models import Base as ProgressionBase
from services.settlement.main import MIGRATIONS as SETTLEMENT_MIGRATIONS
from services.settlement.models import Base as SettlementBase

SERVICES = {
    "intake": (INTAKE_MIGRATIONS, IntakeBase.metadata),
    "progression": (PROGRESSION_MIGRATIONS, ProgressionBase.metadata),
    "settlement": (SETTLEMENT_MIGRATIONS, SettlementBase.metadata),
}


async def _inspect(settings: CommonSettings, metadata: list[MetaData]) -> tuple[list[Any], set[str]]:
    engine = create_engine(settings)
    try:
        async with engine.connect() as connection:

            def run(sync: Connection) -> tuple[list[Any], set[str]]:
                context = MigrationContext.configure(sync)
                differences = compare_metadata(context, metadata)  # type: ignore[arg-type]  # a list is accepted
                return differences, set(inspect(sync).get_table_names())

            return await connection.run_sync(run)
    finally:
        await engine.dispose()


@pytest.mark.parametrize("service", SERVICES)
def test_migrations_match_the_models_and_downgrade_cleanly(service: str, database: dict[str, Any]) -> None:
    migrations, metadata = SERVICES[service]
    settings = CommonSettings(service_name=service, **database)

    upgrade_head(settings, migrations)
    upgrade_head(settings, migrations)  # a restart migrates again: nothing to do, no error

    differences, tables = asyncio.run(_inspect(settings, [metadata, messaging_metadata]))
    assert differences == []
    assert {"outbox", "inbox", "alembic_version"} | set(metadata.tables) <= tables

    command.downgrade(alembic_config(settings, migrations), "base")
    _, tables_after = asyncio.run(_inspect(settings, [metadata, messaging_metadata]))
    assert tables_after <= {"alembic_version"}
