"""Each service's Alembic migrations build exactly the tables its models declare, on SQLite and
PostgreSQL, and can be undone."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import os
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any, TypeVar

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from sqlalchemy import MetaData, insert, inspect, select, text
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncConnection

from libs.common.cpr import CprCipher
from libs.common.db import Database, create_engine, messaging_metadata, outbox_table
from libs.common.migrations import alembic_config, upgrade_head
from libs.common.nats import NatsLink
from libs.common.outbox import OutboxRelay
from libs.common.settings import CommonSettings
from services.intake.main import MIGRATIONS as INTAKE_MIGRATIONS
from services.intake.models import Base as IntakeBase
from services.intake.services.protection import CprProtection
from services.intake.settings import IntakeSettings
from services.progression.main import MIGRATIONS as PROGRESSION_MIGRATIONS
from services.progression.models import Base as ProgressionBase
from services.settlement.main import MIGRATIONS as SETTLEMENT_MIGRATIONS
from services.settlement.models import Base as SettlementBase

T = TypeVar("T")

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


def _on_database(settings: CommonSettings, work: Callable[[AsyncConnection], Awaitable[T]]) -> T:
    """``work`` on a connection to the service's database, in a transaction that commits."""

    async def run() -> T:
        engine = create_engine(settings)
        try:
            async with engine.begin() as connection:
                return await work(connection)
        finally:
            await engine.dispose()

    return asyncio.run(run())


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


def test_the_outbox_cursor_starts_below_the_first_row_still_to_publish(database: dict[str, Any]) -> None:
    """A database with published and unpublished rows, migrated to the cursor: the relay goes on
    with exactly the rows it had still to publish; undone, the rows the cursor covered are marked."""
    settings = CommonSettings(service_name="progression", **database)
    config = alembic_config(settings, PROGRESSION_MIGRATIONS)
    command.upgrade(config, "progression_0003")
    at = datetime(2026, 12, 1, tzinfo=UTC)

    async def fill(connection: AsyncConnection) -> None:
        for n in range(7):
            published = at if n in (0, 1, 2, 5) else None  # 3 and 4 still to publish
            row = {"event_id": f"e-{n}", "subject": "s", "event_type": "t", "envelope": "{}"}
            await connection.execute(
                insert(outbox_table).values(**row, created_at=at, published_at=published)
            )

    async def after_migration() -> tuple[int, list[str]]:
        database_ = Database(settings)
        try:
            relay = OutboxRelay(database_, NatsLink(settings))
            through, rows = await relay.published_through(), await relay.pending()
            await relay.mark_published(rows[:1])  # e-3 goes out: on SQLite the cursor moves past it
            return through, [row.event_id for row in rows]
        finally:
            await database_.dispose()

    async def marked(connection: AsyncConnection) -> set[str]:
        rows = await connection.execute(
            select(outbox_table.c.event_id).where(outbox_table.c.published_at.is_not(None))
        )
        return {row[0] for row in rows}

    _on_database(settings, fill)
    upgrade_head(settings, PROGRESSION_MIGRATIONS)
    through, pending = asyncio.run(after_migration())
    assert through == 3  # seq 1-3 published; seq 4 (e-3) is the first still to publish
    assert pending == ["e-3", "e-4", "e-6"]  # e-5 was marked published on its own

    command.downgrade(config, "progression_0003")
    assert _on_database(settings, marked) == {"e-0", "e-1", "e-2", "e-3", "e-5"}
    command.downgrade(config, "base")


def test_the_track_seats_start_from_the_citizens_enrolled_so_far(database: dict[str, Any]) -> None:
    settings = CommonSettings(service_name="intake", **database)
    config = alembic_config(settings, INTAKE_MIGRATIONS)
    command.upgrade(config, "intake_0004")
    at = datetime(2026, 12, 1, tzinfo=UTC)

    async def fill(connection: AsyncConnection) -> None:
        await connection.execute(
            text("INSERT INTO programmes (programme_id, name, created_at) VALUES ('p-1', 'P', :at)"),
            {"at": at},
        )
        for n, (track, enrolled) in enumerate(
            [("syge", True), ("syge", True), ("syge", False), ("job", True), ("job", False)]
        ):
            await connection.execute(
                text(
                    "INSERT INTO participants (participant_id, programme_id, track, status, "
                    "cpr_pseudonym, cpr_encrypted, cpr_masked, referred_on, enrolled_on, created_at, "
                    "updated_at) VALUES (:id, 'p-1', :track, 'x', :id, 'x', 'x', :on, :enrolled, :at, :at)"
                ),
                {"id": f"id-{n}", "track": track, "on": at.date(), "enrolled": at.date() if enrolled else None,
                 "at": at},
            )  # fmt: skip

    async def seats(connection: AsyncConnection) -> dict[str, int]:
        return dict((await connection.execute(text("SELECT track, taken FROM track_seats"))).all())

    _on_database(settings, fill)
    command.upgrade(config, "intake_0005")  # these rows' CPR tokens are not real: stop before intake_0006
    assert _on_database(settings, seats) == {"syge": 2, "job": 1}
    command.downgrade(config, "base")


def v1_token(key: bytes, digits: str) -> str:
    """A CPR token as intake wrote it before intake_0006 (bound to no participant), built from the
    format rather than by the code under test."""
    nonce = os.urandom(12)
    sealed = AESGCM(key).encrypt(nonce, digits.encode(), b"sib-cpr-v1")
    return f"v1.{hashlib.sha256(key).hexdigest()[:8]}.{base64.urlsafe_b64encode(nonce + sealed).decode()}"


def test_stored_cpr_tokens_are_re_encrypted_bound_to_their_participant_under_the_current_key(
    database: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Rows under the current and under a previous key (CPR_PREVIOUS_ENCRYPTION_KEYS, read from the
    environment as intake reads it) end up in the v2 format under the current key, each decrypting only
    on its own row; undone, they are v1 tokens again."""
    old_key = os.urandom(32)
    monkeypatch.setenv("CPR_PREVIOUS_ENCRYPTION_KEYS", base64.b64encode(old_key).decode())
    protection = CprProtection.from_settings(IntakeSettings())
    current_key = base64.b64decode(IntakeSettings().cpr_encryption_key.get_secret_value())
    settings = CommonSettings(service_name="intake", **database)
    config = alembic_config(settings, INTAKE_MIGRATIONS)
    command.upgrade(config, "intake_0005")
    at = datetime(2026, 12, 1, tzinfo=UTC)
    citizens = {  # participant id -> (CPR digits, the key its token was made under)
        f"00000000-0000-0000-0000-00000000000{n}": (digits, key)
        for n, (digits, key) in enumerate(
            [("0707614285", current_key), ("0202851235", old_key), ("0101901234", current_key)]
        )
    }

    async def fill(connection: AsyncConnection) -> None:
        await connection.execute(
            text("INSERT INTO programmes (programme_id, name, created_at) VALUES ('p-1', 'P', :at)"),
            {"at": at},
        )
        for pid, (digits, key) in citizens.items():
            await connection.execute(
                text(
                    "INSERT INTO participants (participant_id, programme_id, track, status, "
                    "cpr_pseudonym, cpr_encrypted, cpr_masked, referred_on, created_at, updated_at) "
                    "VALUES (:id, 'p-1', 'syge', 'referred', :id, :token, :masked, :on, :at, :at)"
                ),
                {"id": pid, "token": v1_token(key, digits), "masked": f"{digits[:6]}-****", "on": at.date(),
                 "at": at},
            )  # fmt: skip

    async def tokens(connection: AsyncConnection) -> dict[str, str]:
        return dict(
            (await connection.execute(text("SELECT participant_id, cpr_encrypted FROM participants"))).all()
        )

    _on_database(settings, fill)
    upgrade_head(settings, INTAKE_MIGRATIONS)
    bound = _on_database(settings, tokens)
    current_only = CprCipher(current_key)  # the old key is no longer needed
    first, second, _ = citizens
    for pid, (digits, _key) in citizens.items():
        assert bound[pid].startswith("v2.") and not protection.cipher.needs_rotation(bound[pid])
        assert current_only.decrypt(bound[pid], pid).digits == digits
    with pytest.raises(ValueError, match="another participant"):
        current_only.decrypt(bound[first], second)

    command.downgrade(config, "intake_0005")
    unbound = _on_database(settings, tokens)
    for pid, (digits, _key) in citizens.items():
        assert unbound[pid].startswith("v1.")
        assert current_only.decrypt(current_only.rotate(unbound[pid], pid), pid).digits == digits
    command.downgrade(config, "base")


def test_progression_drops_the_pseudonyms_and_keeps_its_participants(database: dict[str, Any]) -> None:
    settings = CommonSettings(service_name="progression", **database)
    config = alembic_config(settings, PROGRESSION_MIGRATIONS)
    command.upgrade(config, "progression_0004")
    at = datetime(2026, 12, 1, tzinfo=UTC)

    async def fill(connection: AsyncConnection) -> None:
        await connection.execute(
            text(
                "INSERT INTO participants (participant_id, programme_id, track, cpr_pseudonym, referred_on, "
                "last_recording_seq, updated_at) VALUES ('p-1', 'prog', 'syge', :pseudonym, :on, 3, :at)"
            ),
            {"pseudonym": "a" * 64, "on": at.date(), "at": at},
        )

    async def participants(connection: AsyncConnection) -> list[dict[str, Any]]:
        return [
            dict(row) for row in (await connection.execute(text("SELECT * FROM participants"))).mappings()
        ]

    _on_database(settings, fill)
    upgrade_head(settings, PROGRESSION_MIGRATIONS)
    [kept] = _on_database(settings, participants)
    assert "cpr_pseudonym" not in kept and (kept["participant_id"], kept["last_recording_seq"]) == ("p-1", 3)

    command.downgrade(config, "progression_0004")
    [back] = _on_database(settings, participants)
    assert back["cpr_pseudonym"] is None and back["last_recording_seq"] == 3  # nullable, and empty
    command.downgrade(config, "base")
