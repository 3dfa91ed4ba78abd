"""A PostgreSQL role per service: it logs in, owns its service's schema and nothing else, and is no
superuser. Run once per database as an administrator (again after a change: every step is
idempotent); the services then connect as their own role and their migrations need no CREATE on the
database.

    python -m deploy.postgres provision      # ADMIN_DATABASE_URL=postgresql://postgres@host/sib
    python -m deploy.postgres sql            # the same statements, for psql -f (no passwords)
    python -m deploy.postgres sql --write    # regenerate deploy/postgres/roles.sql (--check: compare)

Roles are ``<role-prefix><service>`` (``sib_intake``, ...), schemas ``<schema-prefix><service>``
(``intake``, the services' default ``DATABASE_SCHEMA``). A role's password is set when
``<SERVICE>_DB_PASSWORD`` is in the environment (``INTAKE_DB_PASSWORD``, ...), as a SCRAM-SHA-256
verifier computed here, so the password itself never reaches the server or its log (it is set again
at every run, with a new salt: the one change a second run makes).

Per role: LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS (an existing role with
more is brought down to that); its schemas are created owned by it, or, when they exist (one user for
every service before), handed to it with every table, view, sequence, type and routine in them.
PUBLIC loses any right on those schemas. Per database: PUBLIC loses CREATE on it and on schema
``public`` when it has them; a role gets CONNECT when PUBLIC's was revoked. Nothing is granted on
another service's schema. An administrator that is not superuser (a managed service's) is made a
member of each role, which PostgreSQL requires to give the role a schema.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import hashlib
import hmac
import os
import re
import secrets
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import asyncpg  # type: ignore[import-untyped]
from sqlalchemy.engine import URL, make_url

SERVICES = ("intake", "progression", "settlement")
SQL_FILE = Path(__file__).parent / "postgres" / "roles.sql"
NAME = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")  # as settings.database_schema: quoting needs no escape

# deploy/ops/rebuild.py replays into ``<schema>_rebuild``, and its --replace keeps the replaced
# tables in ``<schema>_previous``. A role without CREATE on the database cannot make a schema, so they
# are made here beside the services' own (a unit test holds these sets to those of deploy/ops/).
REBUILD_SUFFIX = "_rebuild"
PREVIOUS_SUFFIX = "_previous"
REBUILT = frozenset({"progression", "settlement"})
REPLACEABLE = frozenset({"settlement"})


@dataclass(frozen=True)
class Owner:
    """A login role and the schemas it owns."""

    role: str
    schemas: tuple[str, ...]
    password: str | None = None

    def __post_init__(self) -> None:
        for name in (self.role, *self.schemas):
            if not NAME.match(name):
                raise ValueError(f"{name!r}: lower-case letters, digits and _, at most 63")


def service_schemas(service: str, schema: str) -> tuple[str, ...]:
    """A service's schema and those deploy/ops/ works in beside it."""
    return (
        schema,
        *((schema + REBUILD_SUFFIX,) if service in REBUILT else ()),
        *((schema + PREVIOUS_SUFFIX,) if service in REPLACEABLE else ()),
    )


def service_owners(
    role_prefix: str = "sib_", schema_prefix: str = "", passwords: dict[str, str] | None = None
) -> list[Owner]:
    return [
        Owner(
            f"{role_prefix}{service}",
            service_schemas(service, f"{schema_prefix}{service}"),
            (passwords or {}).get(service),
        )
        for service in SERVICES
    ]


def passwords_from_env() -> dict[str, str]:
    return {
        s: os.environ[f"{s.upper()}_DB_PASSWORD"]
        for s in SERVICES
        if os.environ.get(f"{s.upper()}_DB_PASSWORD")
    }


def _role_sql(role: str) -> str:
    return f"""DO $$
BEGIN
  IF NOT EXISTS (SELECT FROM pg_catalog.pg_roles WHERE rolname = '{role}') THEN
    CREATE ROLE "{role}" LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS;
  END IF;
  IF EXISTS (SELECT FROM pg_catalog.pg_roles WHERE rolname = '{role}'
             AND (NOT rolcanlogin OR rolcreatedb OR rolcreaterole)) THEN
    ALTER ROLE "{role}" LOGIN NOCREATEDB NOCREATEROLE;
  END IF;
  IF EXISTS (SELECT FROM pg_catalog.pg_roles WHERE rolname = '{role}'
             AND (rolsuper OR rolreplication OR rolbypassrls)) THEN
    ALTER ROLE "{role}" NOSUPERUSER NOREPLICATION NOBYPASSRLS;
  END IF;
  -- Giving a role a schema takes membership in it, which a superuser has anyway.
  IF NOT pg_catalog.pg_has_role(current_user, '{role}', 'MEMBER') THEN
    GRANT "{role}" TO CURRENT_USER;
  END IF;
END $$;"""  # noqa: S608 (names matched NAME)


def _schema_sql(role: str, schema: str) -> str:
    return f"""DO $$
DECLARE
  ns oid := (SELECT oid FROM pg_catalog.pg_namespace WHERE nspname = '{schema}');
  stmt text;
BEGIN
  IF ns IS NULL THEN
    CREATE SCHEMA "{schema}" AUTHORIZATION "{role}";
    RETURN;
  END IF;
  IF (SELECT nspowner FROM pg_catalog.pg_namespace WHERE oid = ns) <> '{role}'::regrole THEN
    ALTER SCHEMA "{schema}" OWNER TO "{role}";
  END IF;
  IF EXISTS (SELECT FROM pg_catalog.pg_namespace n, aclexplode(n.nspacl) a
             WHERE n.oid = ns AND a.grantee = 0) THEN
    REVOKE ALL ON SCHEMA "{schema}" FROM PUBLIC;
  END IF;
  -- What an earlier owner made in it: the role's migrations alter these. A column's sequence, a
  -- table's indexes and row type go with the table.
  FOR stmt IN
    SELECT format('ALTER %s %I.%I OWNER TO %I',
                  CASE c.relkind WHEN 'v' THEN 'VIEW' WHEN 'm' THEN 'MATERIALIZED VIEW'
                    WHEN 'S' THEN 'SEQUENCE' WHEN 'f' THEN 'FOREIGN TABLE' WHEN 'c' THEN 'TYPE'
                    ELSE 'TABLE' END,
                  '{schema}', c.relname, '{role}')
    FROM pg_catalog.pg_class c
    WHERE c.relnamespace = ns AND c.relowner <> '{role}'::regrole
      AND c.relkind IN ('r', 'p', 'v', 'm', 'S', 'f', 'c')
      AND NOT EXISTS (SELECT FROM pg_catalog.pg_depend d WHERE d.classid = 'pg_class'::regclass
                      AND d.objid = c.oid AND d.deptype IN ('a', 'i'))
    UNION ALL
    SELECT format('ALTER TYPE %I.%I OWNER TO %I', '{schema}', t.typname, '{role}')
    FROM pg_catalog.pg_type t
    WHERE t.typnamespace = ns AND t.typowner <> '{role}'::regrole AND t.typtype IN ('e', 'd', 'r')
    UNION ALL
    SELECT format('ALTER ROUTINE %I.%I(%s) OWNER TO %I', '{schema}', p.proname,
                  pg_catalog.pg_get_function_identity_arguments(p.oid), '{role}')
    FROM pg_catalog.pg_proc p
    WHERE p.pronamespace = ns AND p.proowner <> '{role}'::regrole AND p.prokind IN ('f', 'p')
  LOOP
    EXECUTE stmt;
  END LOOP;
END $$;"""  # noqa: S608 (names matched NAME)


def _database_sql(roles: Sequence[str]) -> str:
    connect = "\n".join(
        f"""  IF NOT has_database_privilege('{role}', current_database(), 'CONNECT') THEN
    EXECUTE format('GRANT CONNECT ON DATABASE %I TO %I', current_database(), '{role}');
  END IF;"""
        for role in roles
    )
    return f"""DO $$
BEGIN
  -- PostgreSQL 15 took CREATE on schema public from PUBLIC; older clusters and restored dumps have it.
  IF EXISTS (SELECT FROM pg_catalog.pg_namespace n, aclexplode(n.nspacl) a
             WHERE n.nspname = 'public' AND a.grantee = 0 AND a.privilege_type = 'CREATE') THEN
    REVOKE CREATE ON SCHEMA public FROM PUBLIC;
  END IF;
  IF EXISTS (SELECT FROM pg_catalog.pg_database d,
               aclexplode(coalesce(d.datacl, acldefault('d', d.datdba))) a
             WHERE d.datname = current_database() AND a.grantee = 0 AND a.privilege_type = 'CREATE') THEN
    EXECUTE format('REVOKE CREATE ON DATABASE %I FROM PUBLIC', current_database());
  END IF;
  -- CONNECT (and TEMPORARY) stay with PUBLIC; where CONNECT was revoked, each role gets it.
{connect}
END $$;"""  # noqa: S608 (names matched NAME)


def script(owners: Sequence[Owner]) -> str:
    """Every statement, passwords aside, in the order they run (one transaction)."""
    parts = []
    for owner in owners:
        parts.append(f"-- {owner.role}: {', '.join(owner.schemas)}")
        parts.append(_role_sql(owner.role))
        parts.extend(_schema_sql(owner.role, schema) for schema in owner.schemas)
    parts.append("-- the database")
    parts.append(_database_sql([owner.role for owner in owners]))
    return "\n".join(parts) + "\n"


def sql_file() -> str:
    """roles.sql: the default roles' statements, for a DBA who runs psql rather than this module."""
    return (
        "-- Generated by python -m deploy.postgres sql --write (a unit test fails when it drifts).\n"
        '-- As an administrator: psql "$ADMIN_DATABASE_URL" -1 -v ON_ERROR_STOP=1 -f roles.sql\n'
        "-- then a password per role: \\password sib_intake (and sib_progression, sib_settlement).\n"
        + script(service_owners())
    )


def scram_sha_256(password: str, salt: bytes | None = None, iterations: int = 4096) -> str:
    """The verifier PostgreSQL stores for a password (as psql's \\password computes it). ASCII only:
    PostgreSQL prepares other passwords with SASLprep first, which this does not."""
    if not password.isascii():
        raise ValueError("database passwords must be ASCII")
    salt = salt if salt is not None else secrets.token_bytes(16)
    salted = hashlib.pbkdf2_hmac("sha256", password.encode(), salt, iterations)
    client_key = hmac.new(salted, b"Client Key", "sha256").digest()
    server_key = hmac.new(salted, b"Server Key", "sha256").digest()

    def b64(raw: bytes) -> str:
        return base64.b64encode(raw).decode()

    return (
        f"SCRAM-SHA-256${iterations}:{b64(salt)}${b64(hashlib.sha256(client_key).digest())}:{b64(server_key)}"
    )


def _password_sql(owners: Sequence[Owner]) -> str:
    return "".join(
        f"ALTER ROLE \"{o.role}\" PASSWORD '{scram_sha_256(o.password)}';\n" for o in owners if o.password
    )


def asyncpg_dsn(url: str) -> str:
    """A libpq URL as asyncpg.connect takes it (which reads sslmode, sslrootcert and the like itself)."""
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


def role_url(url: str, role: str, password: str | None = None) -> str:
    """``url`` (driver, host, database, query kept) for ``role``: never the administrator's password."""
    given = make_url(url)
    return URL.create(
        given.drivername, role, password, given.host, given.port, given.database, given.query
    ).render_as_string(hide_password=False)


async def _run(admin_url: str, sql: str) -> None:
    connection = await asyncpg.connect(asyncpg_dsn(admin_url))
    try:
        async with connection.transaction():
            await connection.execute(sql)  # no arguments: one simple query, every statement in turn
    finally:
        await connection.close()


async def provision(admin_url: str, owners: Sequence[Owner]) -> None:
    await _run(admin_url, script(owners) + _password_sql(owners))


async def drop_roles(admin_url: str, roles: Sequence[str]) -> None:
    """Drop the roles and everything they own in this database (their schemas too): tests, the demo."""
    if not roles:
        return
    for role in roles:
        if not NAME.match(role):
            raise ValueError(f"{role!r} is no role name")
    listed = ", ".join(f"'{role}'" for role in roles)
    await _run(
        admin_url,
        f"""DO $$
DECLARE
  r text;
BEGIN
  FOR r IN SELECT rolname FROM pg_catalog.pg_roles WHERE rolname IN ({listed}) LOOP
    EXECUTE format('DROP OWNED BY %I CASCADE', r);
  END LOOP;
END $$;
DROP ROLE IF EXISTS {", ".join(f'"{role}"' for role in roles)};""",  # noqa: S608 (names matched NAME)
    )


async def demo_roles(admin_url: str, prefix: str = "demo_") -> dict[str, str]:
    """``make run``'s demo on PostgreSQL: the roles ``demo_<service>`` made afresh (old ones dropped with
    what they own), each owning ``demo_<service>`` and the schemas deploy/ops/ uses beside it.
    Returns each service's DATABASE_URL, with a random password for a server that asks for one."""
    owners = service_owners(prefix, prefix, {service: secrets.token_hex(16) for service in SERVICES})
    await drop_roles(admin_url, [owner.role for owner in owners])
    await provision(admin_url, owners)
    return {
        service: role_url(admin_url, o.role, o.password) for service, o in zip(SERVICES, owners, strict=True)
    }


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m deploy.postgres",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    commands = parser.add_subparsers(dest="command", required=True)
    run = commands.add_parser("provision", help="create or bring up to date the roles and schemas")
    run.add_argument(
        "--admin-url",
        default=os.environ.get("ADMIN_DATABASE_URL"),
        help="an administrator's libpq URL (default: $ADMIN_DATABASE_URL; keep passwords out of argv)",
    )
    sql = commands.add_parser("sql", help=f"print the statements (--write, --check: {SQL_FILE.name})")
    sql.add_argument("--write", action="store_true", help=f"write {SQL_FILE}")
    sql.add_argument("--check", action="store_true", help=f"fail if {SQL_FILE} differs")
    for command in (run, sql):
        command.add_argument("--role-prefix", default="sib_")
        command.add_argument("--schema-prefix", default="")
    args = parser.parse_args(argv)
    owners = service_owners(args.role_prefix, args.schema_prefix)
    if args.command == "sql":
        text = script(owners)
        if args.write or args.check:
            if (args.role_prefix, args.schema_prefix) != ("sib_", ""):
                parser.error(f"{SQL_FILE.name} holds the default names: no prefixes with --write/--check")
            text = sql_file()
        if args.write:
            SQL_FILE.parent.mkdir(exist_ok=True)
            SQL_FILE.write_text(text)
        elif args.check:
            if not SQL_FILE.exists() or SQL_FILE.read_text() != text:
                print(f"{SQL_FILE} is out of date: python -m deploy.postgres sql --write", file=sys.stderr)
                return 1
        else:
            print(text, end="")
        return 0
    if not args.admin_url:
        parser.error("provision needs --admin-url or ADMIN_DATABASE_URL")
    passwords = passwords_from_env()
    owners = service_owners(args.role_prefix, args.schema_prefix, passwords)
    asyncio.run(provision(args.admin_url, owners))
    for owner in owners:
        password = "password set" if owner.password else "no password"
        print(f"{owner.role}: owns {', '.join(owner.schemas)} ({password})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
