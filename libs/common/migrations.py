"""Alembic, configured in code: each service keeps its own migrations folder and version table.

``upgrade_head`` is what a service runs at start; ``run_env`` is the whole body of each service's
``migrations/env.py``.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from sqlalchemy import MetaData, text
from sqlalchemy.engine import Connection
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncConnection

from libs.common.db import create_engine
from libs.common.settings import CommonSettings


def alembic_config(settings: CommonSettings, migrations_dir: Path) -> Config:
    config = Config()
    config.set_main_option("script_location", str(migrations_dir))
    config.set_main_option(
        "file_template", "%%(year)d_%%(month).2d_%%(day).2d_%%(hour).2d%%(minute).2d_%%(slug)s"
    )
    config.attributes["settings"] = settings
    return config


def upgrade_head(settings: CommonSettings, migrations_dir: Path) -> None:
    command.upgrade(alembic_config(settings, migrations_dir), "head")


async def upgrade_head_async(settings: CommonSettings, migrations_dir: Path) -> None:
    # Alembic's env runs its own event loop; give it a thread of its own.
    await asyncio.to_thread(upgrade_head, settings, migrations_dir)


def run_env(context: Any, target_metadata: list[MetaData]) -> None:
    settings: CommonSettings = context.config.attributes["settings"]
    if context.is_offline_mode():
        context.configure(
            url=settings.resolved_database_url, target_metadata=target_metadata, literal_binds=True
        )
        with context.begin_transaction():
            context.run_migrations()
        return
    asyncio.run(_run_online(context, settings, target_metadata))


INSUFFICIENT_PRIVILEGE = "42501"


async def ensure_schema(connection: AsyncConnection, schema: str) -> None:
    """Create the schema when it is missing. A service's role owns its schema but has no CREATE on the
    database (deploy/postgres.py), and PostgreSQL checks that right before IF NOT EXISTS looks: so look
    first."""
    found = await connection.execute(
        text("SELECT 1 FROM pg_catalog.pg_namespace WHERE nspname = :s"), {"s": schema}
    )
    if found.first() is None:
        try:
            await connection.execute(text(f'CREATE SCHEMA IF NOT EXISTS "{schema}"'))
        except DBAPIError as exc:
            if getattr(exc.orig, "sqlstate", None) != INSUFFICIENT_PRIVILEGE:
                raise
            raise RuntimeError(
                f"schema {schema} is missing and this role may not create it: create it owned by the "
                "service's role (python -m deploy.postgres provision)"
            ) from exc


async def _run_online(context: Any, settings: CommonSettings, target_metadata: list[MetaData]) -> None:
    engine = create_engine(settings)
    try:
        if settings.is_postgres:
            async with engine.begin() as connection:
                await ensure_schema(connection, settings.resolved_database_schema)

        def do_run(connection: Connection) -> None:
            context.configure(
                connection=connection,
                target_metadata=target_metadata,
                render_as_batch=not settings.is_postgres,
                version_table_schema=settings.resolved_database_schema if settings.is_postgres else None,
            )
            with context.begin_transaction():
                context.run_migrations()

        async with engine.connect() as connection:
            await connection.run_sync(do_run)
            await connection.commit()
    finally:
        await engine.dispose()


def create_messaging_tables_v1(op: Any) -> None:
    """The outbox and inbox as every service's first migration creates them. Frozen: a later change
    to these tables is a new helper used by a new migration."""
    import sqlalchemy as sa

    op.create_table(
        "outbox",
        sa.Column(
            "seq", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), primary_key=True, autoincrement=True
        ),
        sa.Column("event_id", sa.String(36), nullable=False),
        sa.Column("subject", sa.String(255), nullable=False),
        sa.Column("event_type", sa.String(255), nullable=False),
        sa.Column("envelope", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("published_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("publish_attempts", sa.Integer(), nullable=False, server_default=sa.text("0")),
        sa.PrimaryKeyConstraint("seq", name="pk_outbox"),
        sa.UniqueConstraint("event_id", name="uq_outbox_event_id"),
    )
    op.create_index("ix_outbox_unpublished", "outbox", ["published_at", "seq"])
    op.create_table(
        "inbox",
        sa.Column("consumer", sa.String(100), nullable=False),
        sa.Column("event_id", sa.String(36), nullable=False),
        sa.Column("event_type", sa.String(255), nullable=False),
        sa.Column("processed_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("consumer", "event_id", name="pk_inbox"),
    )


def outbox_pending_index_v2(op: Any) -> None:
    """The relay's index holds only the rows still to publish, by ``seq`` (was every row, by
    ``(published_at, seq)``). Frozen, like v1.

    Why (2026-12-03): with the whole table indexed, PostgreSQL's cached plan for the pending query
    visited the published rows (and, with no vacuum, their dead versions) on every pass, so each pass
    grew slower with them. A partial index's entries for published rows are marked dead by the first
    scan that meets them and skipped after (figures: docs/performance.md#sixth-session-2026-12-03)."""
    import sqlalchemy as sa

    op.drop_index("ix_outbox_unpublished", table_name="outbox")
    pending = sa.text("published_at IS NULL")
    op.create_index("ix_outbox_pending", "outbox", ["seq"], postgresql_where=pending, sqlite_where=pending)


def undo_outbox_pending_index_v2(op: Any) -> None:
    op.drop_index("ix_outbox_pending", table_name="outbox")
    op.create_index("ix_outbox_unpublished", "outbox", ["published_at", "seq"])


def outbox_cursor_v3(op: Any) -> None:
    """``outbox_cursor``: how far the relay has published (libs/common/db.py says why). Its one row
    starts below the first row still to publish, so nothing is published twice or skipped. Frozen."""
    import sqlalchemy as sa

    op.create_table(
        "outbox_cursor",
        sa.Column("relay", sa.String(100), nullable=False),
        sa.Column("published_through", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("relay", name="pk_outbox_cursor"),
    )
    op.execute(
        "INSERT INTO outbox_cursor (relay, published_through) SELECT 'relay', COALESCE("
        "(SELECT MIN(seq) - 1 FROM outbox WHERE published_at IS NULL), (SELECT MAX(seq) FROM outbox), 0)"
    )


def undo_outbox_cursor_v3(op: Any) -> None:
    """Back to a mark on every row: the rows the cursor counts as published get theirs."""
    op.execute(
        "UPDATE outbox SET published_at = CURRENT_TIMESTAMP WHERE published_at IS NULL "
        "AND seq <= (SELECT published_through FROM outbox_cursor WHERE relay = 'relay')"
    )
    op.drop_table("outbox_cursor")


def drop_messaging_tables_v1(op: Any) -> None:
    op.drop_table("inbox")
    op.drop_index("ix_outbox_unpublished", table_name="outbox")
    op.drop_table("outbox")
