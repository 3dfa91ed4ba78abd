"""deploy/postgres.py without a server: the committed SQL file, the names it derives, the URLs it gives
each role. tests/integration/test_postgres_roles.py runs it against PostgreSQL."""

from __future__ import annotations

import pytest

from deploy import postgres
from deploy.ops import rebuild_settings, service_ops


def test_the_committed_roles_sql_matches_the_code() -> None:
    assert postgres.SQL_FILE.read_text() == postgres.sql_file(), "run python -m deploy.postgres sql --write"
    assert postgres.main(["sql", "--check"]) == 0


def test_the_schemas_made_beside_a_service_are_those_deploy_ops_works_in() -> None:
    for name in postgres.SERVICES:
        ops = service_ops(name)
        assert (name in postgres.REBUILT) == bool(ops.read_model), name
        assert (name in postgres.REPLACEABLE) == ops.replaceable, name
        live = ops.settings_class(database_url="postgresql://u@h/db", database_schema=f"x_{name}")
        schemas = postgres.service_schemas(name, f"x_{name}")
        if ops.read_model:
            assert rebuild_settings(ops, live).resolved_database_schema in schemas
        if ops.replaceable:
            assert f"x_{name}{postgres.PREVIOUS_SUFFIX}" in schemas
    assert [o.role for o in postgres.service_owners()] == ["sib_intake", "sib_progression", "sib_settlement"]
    assert postgres.service_owners()[0].schemas == ("intake",)


def test_each_role_gets_the_url_it_was_given_under_its_own_name() -> None:
    admin = "postgresql://postgres:pw@db.example:5432/sib?sslmode=verify-full"
    assert (
        postgres.role_url(admin, "sib_intake")
        == "postgresql://sib_intake@db.example:5432/sib?sslmode=verify-full"
    )
    assert postgres.role_url(admin, "sib_intake", "p@ss/word") == (
        "postgresql://sib_intake:p%40ss%2Fword@db.example:5432/sib?sslmode=verify-full"
    )
    assert (
        postgres.asyncpg_dsn("postgresql+asyncpg://u@h/db?ssl=require") == "postgresql://u@h/db?ssl=require"
    )


@pytest.mark.parametrize("name", ["Intake", "intake-x", 'x"; drop role postgres; --', "a" * 64, ""])
def test_a_name_that_would_need_quoting_is_refused(name: str) -> None:
    with pytest.raises(ValueError, match="lower-case"):
        postgres.Owner(name, ())
    with pytest.raises(ValueError, match="lower-case"):
        postgres.Owner("ok", (name,))


def test_passwords_come_from_the_environment_and_never_appear_in_the_statements(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("INTAKE_DB_PASSWORD", "from-the-env-1")
    monkeypatch.delenv("PROGRESSION_DB_PASSWORD", raising=False)
    monkeypatch.delenv("SETTLEMENT_DB_PASSWORD", raising=False)
    assert postgres.passwords_from_env() == {"intake": "from-the-env-1"}
    owners = postgres.service_owners(passwords=postgres.passwords_from_env())
    assert "from-the-env-1" not in postgres.script(owners)
    assert "from-the-env-1" not in postgres._password_sql(owners)
    assert postgres._password_sql(owners).startswith('ALTER ROLE "sib_intake" PASSWORD \'SCRAM-SHA-256$4096:')
    with pytest.raises(ValueError, match="ASCII"):
        postgres.scram_sha_256("pæssword")
