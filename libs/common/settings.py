"""Settings shared by every service, read from the environment (pydantic-settings).

Settings are built explicitly (``ServiceSettings()``) by ``main`` and the tests, never at import
time, so a test can run several services with different settings in one process.
"""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import Literal, Self
from urllib.parse import parse_qsl, urlencode, urlsplit

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

REPO_ROOT = Path(__file__).resolve().parents[2]

# Secrets that ship with the code for development and tests. Production refuses them.
DEV_JWT_SECRET = "dev-only-jwt-secret-not-for-production-use-0001"  # noqa: S105
DEV_CPR_HMAC_KEY = "dev-only-cpr-hmac-key-not-for-production-use-01"
DEV_CPR_ENCRYPTION_KEY = "ZGV2LW9ubHktY3ByLWVuY3J5cHRpb24ta2V5LTAwMDE="  # base64 of 32 dev bytes
DEVELOPMENT_SECRETS = frozenset({DEV_JWT_SECRET, DEV_CPR_HMAC_KEY, DEV_CPR_ENCRYPTION_KEY})


POSTGRES_PREFIXES = ("postgresql+asyncpg://", "postgresql+psycopg://", "postgresql://", "postgres://")
# libpq's TLS file parameters: asyncpg reads them from its own DSN or the environment only.
LIBPQ_TLS_FILES = frozenset({"sslrootcert", "sslcert", "sslkey", "sslcrl", "sslpassword"})


class Environment(StrEnum):
    development = "development"
    test = "test"
    production = "production"


class CommonSettings(BaseSettings):
    model_config = SettingsConfigDict(env_file=None, extra="ignore", frozen=True)

    service_name: str = Field(default="sib", pattern=r"^[a-z_][a-z0-9_]{0,62}$")
    sib_env: Environment = Environment.development

    # Database: a SQLite file per service under var/ unless DATABASE_URL says otherwise.
    database_url: str | None = None
    # On PostgreSQL each service keeps its tables in its own schema, so one DATABASE_URL serves all
    # three services without them sharing a table. Defaults to the service name.
    database_schema: str | None = Field(default=None, pattern=r"^[a-z_][a-z0-9_]{0,62}$")
    var_dir: Path = REPO_ROOT / "var"
    # SQLite's driver calls: "inline" in the event loop's thread (see libs/common/sqlite_inline.py),
    # or "thread", aiosqlite's thread per connection.
    sqlite_driver: Literal["inline", "thread"] = "inline"
    # A service checkpoints its SQLite WAL from a thread this often (libs/common/sqlite_checkpoint.py);
    # 0 leaves it to SQLite's automatic checkpoint, which runs in the committing call, so in the loop.
    sqlite_checkpoint_interval_seconds: float = Field(default=1.0, ge=0)

    # NATS JetStream
    nats_url: str = "nats://127.0.0.1:4222"
    nats_stream: str = "SIB"
    subject_prefix: str = "sib"
    nats_duplicate_window_seconds: float = 600.0
    consumer_max_deliver: int = Field(default=5, ge=1)
    consumer_ack_wait_seconds: float = Field(default=30.0, gt=0)
    # While the database is unreachable a consumer retries in place, backing off up to this.
    consumer_outage_max_delay_seconds: float = Field(default=5.0, gt=0)
    consumer_batch_size: int = Field(default=500, ge=1)
    # A consumer with a batch step (settlement's facts) applies a whole fetch in one transaction: a
    # backlog that holds several events per citizen then recomputes each citizen once for all of them.
    # 5,000: a batch and the one fetched ahead while it is applied fill the consumers' 10,000 unacked
    # messages (a larger step leaves the fetch ahead with less).
    consumer_batch_step_size: int = Field(default=5000, ge=1)
    relay_poll_interval_seconds: float = Field(default=0.5, gt=0)
    relay_batch_size: int = Field(default=500, ge=1)
    # Published outbox rows are deleted this long after they were written (the stream keeps every
    # event); 0 keeps them all. The relay looks for such rows every outbox_prune_interval_seconds.
    outbox_retention_hours: float = Field(default=168.0, ge=0)
    outbox_prune_interval_seconds: float = Field(default=600.0, gt=0)

    # Auth: HS256 bearer tokens.
    jwt_secret: SecretStr = SecretStr(DEV_JWT_SECRET)
    jwt_issuer: str = "sib-platform"
    jwt_audience: str = "sib"

    # Request bodies above this get a 413 before they are read into memory. A full batch of 10,000
    # status records is about 1.5 MB of JSON.
    max_body_bytes: int = Field(default=8 * 1024 * 1024, ge=1024)

    # CPython's cyclic garbage collector: a young collection every this many allocations (CPython's
    # default is 700), and how many young and middle collections before the next older one. At 700 a
    # service under load ran a collection every few requests; objects of the requests in flight then
    # outlived them into the oldest generation, and its full collections (70-90 ms each, the whole heap)
    # stopped the event loop: the p99 of 64 connections was 120 ms, and 16 full collections took a fifth
    # of the CPU of 10,000 status POSTs (bench/ingest.py, py-spy, gc.callbacks).
    gc_thresholds: tuple[int, int, int] = (50_000, 20, 10)

    log_level: str = "INFO"
    log_json: bool = True

    @model_validator(mode="after")
    def _positive_gc_thresholds(self) -> Self:
        if min(self.gc_thresholds) < 1:
            raise ValueError("gc_thresholds must be three positive whole numbers")
        return self

    @model_validator(mode="after")
    def _refuse_development_secrets_in_production(self) -> Self:
        if self.sib_env is Environment.production:
            for name, value in self._secret_fields():
                if value in DEVELOPMENT_SECRETS:
                    raise ValueError(
                        f"{name} is the development default; set a real secret when SIB_ENV=production"
                    )
                if len(value) < 32:
                    raise ValueError(f"{name} must be at least 32 characters when SIB_ENV=production")
        return self

    def _secret_fields(self) -> list[tuple[str, str]]:
        """Every SecretStr field, so subclasses' secrets are checked too."""
        found = []
        for name in type(self).model_fields:
            value = getattr(self, name)
            if isinstance(value, SecretStr):
                found.append((name, value.get_secret_value()))
        return found

    @field_validator("database_url")
    @classmethod
    def _database_url_asyncpg_takes(cls, url: str | None) -> str | None:
        """SQLAlchemy hands a URL's query to asyncpg.connect as keyword arguments: ``sslmode`` becomes
        its ``ssl`` (below), but it has none for libpq's TLS files, which it reads from the environment."""
        if url is None or not url.startswith(POSTGRES_PREFIXES):
            return url
        keys = {key for key, _ in parse_qsl(urlsplit(url).query)}
        files = sorted(keys & LIBPQ_TLS_FILES)
        if files:
            raise ValueError(
                f"DATABASE_URL: {', '.join(files)} cannot go to asyncpg in the URL; set the environment "
                "variables PGSSLROOTCERT (PGSSLCERT, PGSSLKEY, PGSSLCRL) to the files instead"
            )
        if {"ssl", "sslmode"} <= keys:
            raise ValueError("DATABASE_URL: give sslmode or ssl, not both")
        return url

    @property
    def resolved_database_url(self) -> str:
        """An async SQLAlchemy URL: aiosqlite for SQLite, asyncpg for PostgreSQL (libpq's ``sslmode``
        renamed to asyncpg's ``ssl``, which takes the same values: require, verify-full, ...)."""
        url = self.database_url or f"sqlite:///{self.var_dir / (self.service_name + '.db')}"
        for prefix in POSTGRES_PREFIXES:
            if url.startswith(prefix):
                base, _, query = ("postgresql+asyncpg://" + url[len(prefix) :]).partition("?")
                if not query:
                    return base
                pairs = [
                    ("ssl" if k == "sslmode" else k, v) for k, v in parse_qsl(query, keep_blank_values=True)
                ]
                return f"{base}?{urlencode(pairs)}"
        if url.startswith("sqlite:///"):
            return "sqlite+aiosqlite:///" + url[len("sqlite:///") :]
        return url

    @property
    def is_postgres(self) -> bool:
        return self.resolved_database_url.startswith("postgresql")

    @property
    def resolved_database_schema(self) -> str:
        return self.database_schema or self.service_name
