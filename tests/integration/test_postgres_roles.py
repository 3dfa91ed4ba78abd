"""deploy/postgres.py against a real PostgreSQL: each service's role owns its schema and can do nothing
to another's, migrations run as that role without CREATE on the database, provisioning twice changes
nothing, an administrator that is not superuser can run it, and schemas a shared user made before are
handed over."""

# ruff: noqa: S608 - the statements name the test's own schemas

from __future__ import annotations

import base64
import uuid
from collections.abc import AsyncIterator
from typing import Any

import asyncpg  # type: ignore[import-untyped]
import pytest

from deploy.postgres import (
    Owner,
    asyncpg_dsn,
    demo_roles,
    drop_roles,
    provision,
    role_url,
    scram_sha_256,
    service_owners,
)
from libs.common.migrations import upgrade_head_async
from services.intake.main import MIGRATIONS as INTAKE_MIGRATIONS
from services.intake.settings import IntakeSettings
from services.progression.main import MIGRATIONS as PROGRESSION_MIGRATIONS
from services.progression.settings import ProgressionSettings
from tests.conftest import PG_URL, postgres_available

pytestmark = pytest.mark.postgres


@pytest.fixture
def prefix() -> str:
    if not postgres_available():
        pytest.skip("PostgreSQL does not answer at 127.0.0.1:5432")
    return f"r{uuid.uuid4().hex[:8]}_"


@pytest.fixture
async def roles(prefix: str) -> AsyncIterator[list[Owner]]:
    """The three services' roles and schemas, as production has them, under a prefix of the test's."""
    owners = service_owners(role_prefix=prefix, schema_prefix=prefix)
    await provision(PG_URL, owners)
    try:
        yield owners
    finally:
        await drop_roles(PG_URL, [owner.role for owner in owners])


async def connect_as(role: str, url: str = PG_URL) -> asyncpg.Connection:
    return await asyncpg.connect(asyncpg_dsn(role_url(url, role)))


async def test_a_service_role_owns_its_schema_and_cannot_read_write_or_drop_another_services(
    prefix: str, roles: list[Owner]
) -> None:
    intake, progression = f"{prefix}intake", f"{prefix}progression"
    # Both services migrate as their own role: no CREATE on the database needed.
    for settings, migrations in (
        (IntakeSettings(database_url=role_url(PG_URL, intake), database_schema=intake), INTAKE_MIGRATIONS),
        (
            ProgressionSettings(database_url=role_url(PG_URL, progression), database_schema=progression),
            PROGRESSION_MIGRATIONS,
        ),
    ):
        await upgrade_head_async(settings, migrations)

    owner = await connect_as(intake)
    try:
        await owner.execute(f'INSERT INTO "{intake}".inbox VALUES ($1, $2, $3, now())', "c", "e", "t")
        assert await owner.fetchval(f'SELECT count(*) FROM "{intake}".inbox') == 1
    finally:
        await owner.close()

    other = await connect_as(progression)
    try:
        attributes = await other.fetchrow(
            "SELECT rolsuper, rolcreatedb, rolcreaterole, rolreplication, rolbypassrls"
            " FROM pg_roles WHERE rolname = current_user"
        )
        assert not any(attributes.values())
        assert await other.fetchval(f'SELECT count(*) FROM "{progression}".inbox') == 0  # its own
        refused = [
            f'SELECT * FROM "{intake}".inbox',
            f'SELECT * FROM "{intake}".participants',
            f"INSERT INTO \"{intake}\".inbox VALUES ('c', 'x', 't', now())",
            f'DELETE FROM "{intake}".inbox',
            f'CREATE TABLE "{intake}".planted (id int)',
            f'DROP TABLE "{intake}".inbox',
            f'DROP SCHEMA "{intake}" CASCADE',
            f'ALTER SCHEMA "{intake}" RENAME TO stolen',
            f'CREATE SCHEMA "{prefix}more"',
            "CREATE TABLE public.planted (id int)",
        ]
        for statement in refused:
            with pytest.raises(asyncpg.InsufficientPrivilegeError):
                await other.execute(statement)
    finally:
        await other.close()

    owner = await connect_as(intake)
    try:
        assert await owner.fetchval(f'SELECT count(*) FROM "{intake}".inbox') == 1  # untouched
    finally:
        await owner.close()


async def test_a_role_whose_schema_is_missing_is_told_to_provision_it(prefix: str) -> None:
    role = f"{prefix}bare"
    await provision(PG_URL, [Owner(role, ())])
    try:
        settings = IntakeSettings(database_url=role_url(PG_URL, role), database_schema=role)
        with pytest.raises(RuntimeError, match=r"python -m deploy\.postgres provision"):
            await upgrade_head_async(settings, INTAKE_MIGRATIONS)
    finally:
        await drop_roles(PG_URL, [role])


CATALOG = """
SELECT 'role ' || rolname, xmin::text,
       concat_ws(' ', rolsuper, rolcreatedb, rolcreaterole, rolcanlogin, rolreplication, rolbypassrls)
  FROM pg_authid WHERE rolname LIKE $1
UNION ALL
SELECT 'member ' || roleid::regrole || ' ' || member::regrole, xmin::text, admin_option::text
  FROM pg_auth_members WHERE roleid::regrole::text LIKE $1
UNION ALL
SELECT 'schema ' || nspname, xmin::text, nspowner::regrole || ' ' || coalesce(nspacl::text, '')
  FROM pg_namespace WHERE nspname LIKE $1 OR nspname = 'public'
UNION ALL
SELECT 'relation ' || relname, xmin::text, relowner::regrole::text
  FROM pg_class WHERE relnamespace::regnamespace::text LIKE $1
UNION ALL
SELECT 'database', xmin::text, coalesce(datacl::text, '') FROM pg_database WHERE datname = current_database()
ORDER BY 1
"""


@pytest.fixture
async def scratch(prefix: str) -> AsyncIterator[dict[str, Any]]:
    """A database of its own (its ACLs are changed here, which the shared one's tests must not see),
    owned by an administrator with CREATEROLE and no superuser, as a managed service gives one."""
    admin, database = f"{prefix}admin", f"{prefix}db"
    superuser = await asyncpg.connect(asyncpg_dsn(PG_URL))
    try:
        await superuser.execute(f'CREATE ROLE "{admin}" LOGIN CREATEROLE')
        await superuser.execute(f'CREATE DATABASE "{database}" OWNER "{admin}"')
        url = role_url(PG_URL, admin).rsplit("/", 1)[0] + f"/{database}"
        yield {"admin": admin, "url": url, "superuser_url": PG_URL.rsplit("/", 1)[0] + f"/{database}"}
    finally:
        await superuser.execute(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')
        roles = await superuser.fetch("SELECT rolname FROM pg_roles WHERE rolname LIKE $1", f"{prefix}%")
        for row in roles:
            await superuser.execute(f'DROP ROLE "{row["rolname"]}"')
        await superuser.close()


async def test_provisioning_hands_over_a_shared_users_schema_hardens_the_database_and_twice_changes_nothing(
    prefix: str, scratch: dict[str, Any]
) -> None:
    # Before: one user (the administrator here) owns every service's schema and tables, and the
    # database has the rights a PostgreSQL before 15 (or a restored dump) gives PUBLIC.
    admin = await asyncpg.connect(asyncpg_dsn(scratch["url"]))
    try:
        await admin.execute(
            f'CREATE SCHEMA "{prefix}intake";'
            f'CREATE TABLE "{prefix}intake".old (id bigserial PRIMARY KEY, v text);'
            f'CREATE VIEW "{prefix}intake".old_view AS SELECT v FROM "{prefix}intake".old;'
            f'CREATE SEQUENCE "{prefix}intake".loose;'
            f'GRANT USAGE ON SCHEMA "{prefix}intake" TO PUBLIC;'
            f'GRANT CREATE ON DATABASE "{prefix}db" TO PUBLIC;'
            f'REVOKE CONNECT ON DATABASE "{prefix}db" FROM PUBLIC;'
        )
    finally:
        await admin.close()
    superuser = await asyncpg.connect(asyncpg_dsn(scratch["superuser_url"]))
    try:
        await superuser.execute("GRANT CREATE ON SCHEMA public TO PUBLIC")
    finally:
        await superuser.close()

    owners = service_owners(role_prefix=prefix, schema_prefix=prefix)
    await provision(scratch["url"], owners)  # as the administrator, who is not superuser

    check = await asyncpg.connect(asyncpg_dsn(scratch["superuser_url"]))
    try:
        intake = f"{prefix}intake"
        owned = await check.fetch(
            "SELECT relname, relowner::regrole::text AS owner FROM pg_class"
            " WHERE relnamespace = $1::regnamespace AND relkind IN ('r', 'v', 'S')",
            intake,
        )
        assert {r["relname"]: r["owner"] for r in owned} == dict.fromkeys(
            ["old", "old_id_seq", "old_view", "loose"], intake
        )
        schemas = await check.fetch(
            "SELECT nspname, nspowner::regrole::text AS owner FROM pg_namespace WHERE nspname LIKE $1",
            f"{prefix}%",
        )
        assert {s["nspname"]: s["owner"] for s in schemas} == {
            schema: owner.role for owner in owners for schema in owner.schemas
        }
        public_usage = (
            "SELECT count(*) FROM pg_namespace n, aclexplode(n.nspacl) a WHERE n.nspname LIKE $1"
            " AND a.grantee = 0"
        )
        assert await check.fetchval(public_usage, f"{prefix}%") == 0  # PUBLIC's usage taken back
        public_create = (
            "SELECT count(*) FROM pg_namespace n, aclexplode(n.nspacl) a"
            " WHERE n.nspname = 'public' AND a.grantee = 0 AND a.privilege_type = 'CREATE'"
        )
        assert await check.fetchval(public_create) == 0
        assert not await check.fetchval(
            "SELECT has_database_privilege('public', current_database(), 'CREATE')"
        )
        for owner in owners:
            assert await check.fetchval(
                "SELECT has_database_privilege($1, current_database(), 'CONNECT')", owner.role
            )
    finally:
        await check.close()

    # The handed-over table is the role's to migrate.
    role = await connect_as(f"{prefix}intake", scratch["url"])
    try:
        await role.execute(f'ALTER TABLE "{prefix}intake".old ADD COLUMN added int')
        await role.execute(f'DROP TABLE "{prefix}intake".old CASCADE')
    finally:
        await role.close()

    check = await asyncpg.connect(asyncpg_dsn(scratch["superuser_url"]))
    try:
        before = await check.fetch(CATALOG, f"{prefix}%")
        await provision(scratch["url"], owners)
        after = await check.fetch(CATALOG, f"{prefix}%")
    finally:
        await check.close()
    assert [tuple(r) for r in after] == [tuple(r) for r in before]  # not one catalog row rewritten


async def test_a_role_found_with_more_rights_loses_them(prefix: str) -> None:
    role = f"{prefix}intake"
    superuser = await asyncpg.connect(asyncpg_dsn(PG_URL))
    try:
        await superuser.execute(f'CREATE ROLE "{role}" NOLOGIN SUPERUSER CREATEDB CREATEROLE BYPASSRLS')
        await provision(PG_URL, [Owner(role, (role,))])
        attributes = await superuser.fetchrow(
            "SELECT rolcanlogin, rolsuper, rolcreatedb, rolcreaterole, rolbypassrls FROM pg_roles"
            " WHERE rolname = $1",
            role,
        )
        assert tuple(attributes) == (True, False, False, False, False)
    finally:
        await superuser.close()
        await drop_roles(PG_URL, [role])


async def test_a_password_is_stored_as_the_scram_verifier_postgresql_computes(prefix: str) -> None:
    role, probe = f"{prefix}intake", f"{prefix}probe"
    superuser = await asyncpg.connect(asyncpg_dsn(PG_URL))
    try:
        # PostgreSQL's own verifier of a password, recomputed here with its salt and iterations.
        await superuser.execute("SET password_encryption = 'scram-sha-256'")
        await superuser.execute(f"CREATE ROLE \"{probe}\" PASSWORD 'pencil-42'")
        stored = await superuser.fetchval("SELECT rolpassword FROM pg_authid WHERE rolname = $1", probe)
        iterations, salt = stored.split("$")[1].split(":")
        assert scram_sha_256("pencil-42", base64.b64decode(salt), int(iterations)) == stored

        await provision(PG_URL, [Owner(role, (role,), password="s3cret-Pass")])
        mine = await superuser.fetchval("SELECT rolpassword FROM pg_authid WHERE rolname = $1", role)
        iterations, salt = mine.split("$")[1].split(":")
        assert scram_sha_256("s3cret-Pass", base64.b64decode(salt), int(iterations)) == mine
        assert mine != scram_sha_256("other", base64.b64decode(salt), int(iterations))
    finally:
        await superuser.close()
        await drop_roles(PG_URL, [role, probe])


async def test_make_runs_demo_gets_a_role_per_service_made_afresh_at_each_start(prefix: str) -> None:
    roles = [f"{prefix}{service}" for service in ("intake", "progression", "settlement")]
    try:
        urls = await demo_roles(PG_URL, prefix)
        assert list(urls) == ["intake", "progression", "settlement"]
        for service, url in urls.items():
            connection = await asyncpg.connect(asyncpg_dsn(url))
            try:
                assert await connection.fetchval("SELECT current_user") == f"{prefix}{service}"
                assert (
                    await connection.fetchval(
                        "SELECT nspowner::regrole::text FROM pg_namespace WHERE nspname = $1",
                        f"{prefix}{service}",
                    )
                    == f"{prefix}{service}"
                )
            finally:
                await connection.close()
        intake = await asyncpg.connect(asyncpg_dsn(urls["intake"]))
        try:
            await intake.execute(f'CREATE TABLE "{prefix}intake".last_run (id int)')
        finally:
            await intake.close()

        again = await demo_roles(PG_URL, prefix)  # the next make run
        assert again != urls  # new passwords
        intake = await asyncpg.connect(asyncpg_dsn(again["intake"]))
        try:
            assert await intake.fetchval("SELECT to_regclass($1)", f'"{prefix}intake".last_run') is None
        finally:
            await intake.close()
    finally:
        await drop_roles(PG_URL, roles)
