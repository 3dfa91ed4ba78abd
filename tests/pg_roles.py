"""PostgreSQL roles for tests: each service of a test runs as a role of its own that owns its schema
(deploy/postgres.py), as in production, so a test fails where a service would need more."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any

from deploy.postgres import Owner, drop_roles, provision, role_url, service_schemas


@contextmanager
def owned_schemas(admin_url: str, owners: Mapping[str, Sequence[str]]) -> Iterator[None]:
    """Roles (trust authentication here: no password) owning the schemas listed under each, dropped
    afterwards with everything they own."""
    asyncio.run(provision(admin_url, [Owner(role, tuple(schemas)) for role, schemas in owners.items()]))
    try:
        yield
    finally:
        asyncio.run(drop_roles(admin_url, list(owners)))


def beside(database: dict[str, Any], suffix: str) -> dict[str, Any]:
    """Another service's fragment beside ``database``'s: its own SQLite file (the service's name), or on
    PostgreSQL the schema ``<schema><suffix>`` and the role of that name, which owns it."""
    schema = database.get("database_schema")
    if not schema:
        return database
    return database | {
        "database_schema": f"{schema}{suffix}",
        "database_url": role_url(database["database_url"], f"{schema}{suffix}"),
    }


@contextmanager
def service_roles(admin_url: str, schema: str) -> Iterator[str]:
    """The ``database`` fixture's roles, each named after the schema it owns: ``schema``'s (intake's, or
    a test's one service's), progression's ``<schema>_p``, settlement's ``<schema>_s`` with the
    ``<schema>_s_rebuild`` its rebuild uses. Yields the URL of the first; ``beside`` gives the others'."""
    owners = {
        schema: [schema],
        f"{schema}_p": [f"{schema}_p"],
        f"{schema}_s": [f"{schema}_s", f"{schema}_s_rebuild"],
    }
    with owned_schemas(admin_url, owners):
        yield role_url(admin_url, schema)


def service_role(admin_url: str, service: str, schema: str, url: str | None = None) -> str:
    """A role named ``schema`` owning it and the schemas deploy/ops/ uses beside it (as deploy/postgres.py
    makes them for production); returns ``url`` (default ``admin_url``) for that role. Drop with
    drop_roles."""
    asyncio.run(provision(admin_url, [Owner(schema, service_schemas(service, schema))]))
    return role_url(url or admin_url, schema)
