from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError
from sqlalchemy.dialects.postgresql.asyncpg import PGDialect_asyncpg as AsyncpgDialect
from sqlalchemy.engine import make_url

from libs.common.settings import DEV_CPR_HMAC_KEY, DEV_ISSUER_URL, CommonSettings
from services.intake.settings import IntakeSettings
from services.progression.settings import ProgressionSettings
from services.settlement.settings import SettlementSettings

STRONG = "x" * 40


# What a production deployment sets: TLS and credentials for NATS, an https identity provider.
PRODUCTION: dict[str, Any] = {
    "sib_env": "production",
    "nats_url": "tls://nats.sib.svc:4222",
    "nats_creds_file": "/run/secrets/nats.creds",
    "oidc_issuer": "https://login.kommune.dk/realms/sib",
}
INTAKE_KEYS: dict[str, Any] = {"cpr_hmac_key": "k" * 40, "cpr_encryption_key": "e" * 44}


def test_development_defaults_are_accepted_outside_production() -> None:
    assert CommonSettings(sib_env="development").oidc_issuer == os.environ.get("OIDC_ISSUER")
    assert CommonSettings(sib_env="test", oidc_issuer=None).expected_issuer == DEV_ISSUER_URL


def test_production_settings_are_accepted_when_complete() -> None:
    assert CommonSettings(**PRODUCTION).sib_env == "production"
    assert IntakeSettings(**PRODUCTION, **INTAKE_KEYS).sib_env == "production"


@pytest.mark.parametrize(
    ("change", "says"),
    [
        ({"nats_url": "nats://nats.sib.svc:4222"}, "NATS_URL must use TLS"),
        ({"nats_creds_file": None, "nats_password": None}, "NATS credentials are required"),
        (
            {"nats_creds_file": None, "nats_user": "intake", "nats_password": None},
            "NATS credentials are required",
        ),
        ({"oidc_issuer": None}, "OIDC_ISSUER is required"),
        ({"oidc_issuer": "http://127.0.0.1:8000"}, "oidc_issuer must be an https URL"),
        ({"jwks_url": "http://idp/jwks"}, "jwks_url must be an https URL"),
        (
            {"nats_creds_file": None, "nats_user": "intake", "nats_password": "dev-abc" + "x" * 40},
            "nats_password is a development secret",
        ),
        ({"oidc_client_secret": "dev-" + "y" * 40}, "oidc_client_secret is a development secret"),
    ],
)
def test_production_refuses_what_is_unsafe(change: dict[str, Any], says: str) -> None:
    with pytest.raises(ValidationError, match=says):
        CommonSettings(**(PRODUCTION | change))


def test_a_nats_ca_is_tls_too() -> None:
    settings = CommonSettings(**(PRODUCTION | {"nats_url": "nats://nats:4222", "nats_tls_ca": "/ca.pem"}))
    assert settings.nats_tls_required


@pytest.mark.parametrize("url", ["nats://intake:s3cret-pw@nats:4222", "tls://s3cret-token@nats:4222"])
def test_credentials_in_the_nats_url_are_refused_and_never_echoed(url: str) -> None:
    with pytest.raises(ValidationError, match="NATS_URL must not hold credentials") as refused:
        CommonSettings(nats_url=url)
    assert "s3cret" not in str(refused.value)


@pytest.mark.parametrize("algorithms", [["HS256"], ["ES256", "HS512"], ["none"], []])
def test_token_algorithms_are_public_key_ones_only(algorithms: list[str]) -> None:
    with pytest.raises(ValidationError, match="public-key algorithms only"):
        CommonSettings(token_algorithms=algorithms)
    assert CommonSettings(token_algorithms=["RS256"]).token_algorithms == ["RS256"]


def test_production_refuses_a_short_secret() -> None:
    with pytest.raises(ValidationError, match="at least 32 characters"):
        CommonSettings(**PRODUCTION, oidc_client_secret="short")


def test_production_refuses_the_development_cpr_keys_of_intake() -> None:
    with pytest.raises(ValidationError, match="cpr_hmac_key is a development secret"):
        IntakeSettings(**PRODUCTION)


def test_production_refuses_the_development_fingerprint_key_of_progression() -> None:
    with pytest.raises(ValidationError, match="request_fingerprint_key is a development secret"):
        ProgressionSettings(**PRODUCTION)
    accepted = ProgressionSettings(**PRODUCTION, request_fingerprint_key="f" * 40)
    assert accepted.sib_env == "production"


def test_production_secrets_come_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SIB_ENV", "production")
    monkeypatch.setenv("NATS_URL", "tls://nats:4222")
    monkeypatch.setenv("NATS_USER", "settlement")
    monkeypatch.setenv("NATS_PASSWORD", STRONG)
    monkeypatch.setenv("OIDC_ISSUER", "https://idp.example/realms/sib")
    monkeypatch.setenv("OIDC_CLIENT_SECRET", STRONG)
    settings = CommonSettings()
    assert settings.nats_password is not None and settings.nats_password.get_secret_value() == STRONG
    assert STRONG not in repr(settings)  # secrets never print


def _secrets(settings_class: type[CommonSettings]) -> set[str]:
    return {
        name for name, field in settings_class.model_fields.items() if "SecretStr" in str(field.annotation)
    }


def test_each_service_holds_only_its_own_secrets_and_only_intake_a_cpr_key() -> None:
    common = _secrets(CommonSettings)
    assert common == {"nats_nkey_seed", "nats_password", "oidc_client_secret"}
    assert _secrets(IntakeSettings) - common == {
        "cpr_hmac_key",
        "cpr_previous_hmac_keys",
        "cpr_encryption_key",
        "cpr_previous_encryption_keys",
    }
    assert _secrets(ProgressionSettings) - common == {"request_fingerprint_key"}
    assert _secrets(SettlementSettings) == common
    for settings_class in (CommonSettings, ProgressionSettings, SettlementSettings):
        assert [n for n in settings_class.model_fields if "cpr" in n or "pseudonym" in n] == []


def test_token_settings_default_per_service() -> None:
    assert IntakeSettings().resolved_token_audience == "sib-intake"
    assert IntakeSettings().resolved_client_id == "sib-intake"
    assert IntakeSettings().token_max_lifetime.total_seconds() == 3600


def test_sqlite_file_per_service_under_var_by_default(tmp_path: Path) -> None:
    settings = IntakeSettings(var_dir=tmp_path)
    assert settings.resolved_database_url == f"sqlite+aiosqlite:///{tmp_path}/intake.db"
    assert not settings.is_postgres


@pytest.mark.parametrize("url", ["postgresql://u@h:5432/db", "postgres://u@h:5432/db"])
def test_database_url_selects_postgresql_with_a_schema_per_service(url: str) -> None:
    settings = IntakeSettings(database_url=url)
    assert settings.resolved_database_url == "postgresql+asyncpg://u@h:5432/db"
    assert settings.is_postgres
    assert settings.resolved_database_schema == "intake"
    assert IntakeSettings(database_url=url, database_schema="other").resolved_database_schema == "other"


def test_a_schema_name_that_is_not_an_identifier_is_refused() -> None:
    with pytest.raises(ValidationError, match="database_schema"):
        CommonSettings(database_schema='x"; drop table y; --')


def test_gc_thresholds_come_from_the_environment_and_must_be_positive(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    assert CommonSettings().gc_thresholds[0] > 700  # above CPython's default, which paused a loaded service
    monkeypatch.setenv("GC_THRESHOLDS", "[20000, 10, 10]")
    assert CommonSettings().gc_thresholds == (20_000, 10, 10)
    with pytest.raises(ValidationError, match="gc_thresholds"):
        CommonSettings(gc_thresholds=(50_000, 0, 10))


@pytest.mark.parametrize("mode", ["disable", "require", "verify-ca", "verify-full"])
def test_libpqs_sslmode_reaches_asyncpg_as_its_ssl_argument(mode: str) -> None:
    url = f"postgresql://u:p@db.example:5432/sib?sslmode={mode}&application_name=x"
    settings = IntakeSettings(database_url=url)
    assert settings.resolved_database_url == (
        f"postgresql+asyncpg://u:p@db.example:5432/sib?ssl={mode}&application_name=x"
    )
    # What SQLAlchemy's asyncpg dialect hands asyncpg.connect (which has no sslmode argument).
    dialect = AsyncpgDialect()  # type: ignore[no-untyped-call]
    _, kwargs = dialect.create_connect_args(make_url(settings.resolved_database_url))  # type: ignore[no-untyped-call]
    assert kwargs["ssl"] == mode and "sslmode" not in kwargs
    assert IntakeSettings(database_url="postgresql://u@h/db?ssl=require").resolved_database_url.endswith(
        "?ssl=require"
    )


@pytest.mark.parametrize("parameter", ["sslrootcert", "sslcert", "sslkey"])
def test_libpq_tls_files_in_the_url_are_refused_with_the_environment_variable_to_use(parameter: str) -> None:
    with pytest.raises(ValidationError, match="PGSSLROOTCERT"):
        IntakeSettings(database_url=f"postgresql://u@h/db?sslmode=verify-full&{parameter}=/etc/ca.pem")
    with pytest.raises(ValidationError, match="not both"):
        IntakeSettings(database_url="postgresql://u@h/db?sslmode=require&ssl=require")


def test_previous_pseudonym_keys_are_comma_separated_in_the_environment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("CPR_PREVIOUS_HMAC_KEYS", " old-one , old-two,")
    keys = IntakeSettings().cpr_previous_hmac_keys
    assert [key.get_secret_value() for key in keys] == ["old-one", "old-two"]


@pytest.mark.parametrize(
    ("previous", "says"),
    [
        (
            {"cpr_previous_hmac_keys": [DEV_CPR_HMAC_KEY]},
            r"cpr_previous_hmac_keys\[0\] is a development secret",
        ),
        (
            {"cpr_previous_encryption_keys": ["k" * 40, "short"]},
            r"cpr_previous_encryption_keys\[1\] must be at least 32 characters",
        ),
    ],
)
def test_production_checks_the_previous_keys_a_rotation_still_reads(
    previous: dict[str, Any], says: str
) -> None:
    with pytest.raises(ValidationError, match=says):
        IntakeSettings(**PRODUCTION, **INTAKE_KEYS, **previous)
