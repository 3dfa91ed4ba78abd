"""Settings shared by every service, read from the environment (pydantic-settings).

Settings are built explicitly (``ServiceSettings()``) by ``main`` and the tests, never at import
time, so a test can run several services with different settings in one process.
"""

from __future__ import annotations

from datetime import timedelta
from enum import StrEnum
from pathlib import Path
from typing import Literal, Self
from urllib.parse import parse_qsl, urlencode, urlparse, urlsplit

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

REPO_ROOT = Path(__file__).resolve().parents[2]

# Secrets that ship with the code for development and tests. Production refuses them.
DEV_CPR_HMAC_KEY = "dev-only-cpr-hmac-key-not-for-production-use-01"
DEV_CPR_ENCRYPTION_KEY = "ZGV2LW9ubHktY3ByLWVuY3J5cHRpb24ta2V5LTAwMDE="  # base64 of 32 dev bytes
DEV_REQUEST_FINGERPRINT_KEY = "dev-only-request-fingerprint-key-not-for-production"
DEVELOPMENT_SECRETS = frozenset({DEV_CPR_HMAC_KEY, DEV_CPR_ENCRYPTION_KEY, DEV_REQUEST_FINGERPRINT_KEY})
# Where `make run` serves its development token issuer (libs/common/devtoken.py) when OIDC_ISSUER is
# not set outside production.
DEV_ISSUER_URL = "http://127.0.0.1:8000"
# Generated development credentials (NATS passwords, the issuer's client secrets) start with this, so
# production can refuse them.
DEV_CREDENTIAL_PREFIX = "dev-"


POSTGRES_PREFIXES = ("postgresql+asyncpg://", "postgresql+psycopg://", "postgresql://", "postgres://")
# libpq's TLS file parameters: asyncpg reads them from its own DSN or the environment only.
LIBPQ_TLS_FILES = frozenset({"sslrootcert", "sslcert", "sslkey", "sslcrl", "sslpassword"})
# Token signatures a service may accept: public-key ones only, so no verifier ever holds a signing
# secret (HS256 with a shared one is what this replaced; "none" is no signature).
ASYMMETRIC_TOKEN_ALGORITHMS = frozenset(
    {"ES256", "ES384", "ES512", "EdDSA", "RS256", "RS384", "RS512", "PS256", "PS384", "PS512"}
)


class Environment(StrEnum):
    development = "development"
    test = "test"
    production = "production"


class CommonSettings(BaseSettings):
    # An error names the setting but never echoes its value, which may be a secret.
    model_config = SettingsConfigDict(env_file=None, extra="ignore", frozen=True, hide_input_in_errors=True)

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

    # NATS JetStream. Credentials: a creds file (JWT + nkey seed, from `nsc`), an nkey seed, or a user
    # and password; never inside the URL, which is logged. TLS with NATS_TLS_CA (and a client certificate
    # when the server asks for one); production requires TLS and credentials.
    nats_url: str = "nats://127.0.0.1:4222"
    nats_creds_file: Path | None = None
    nats_nkey_seed: SecretStr | None = None
    nats_user: str | None = None
    nats_password: SecretStr | None = None
    nats_tls_ca: Path | None = None
    nats_tls_cert: Path | None = None
    nats_tls_key: Path | None = None
    # Replies to this client's requests arrive under this prefix, which its NATS user alone may
    # subscribe to (default _INBOX.<NATS user>, the user defaulting to the service's name).
    nats_inbox_prefix: str | None = Field(default=None, pattern=r"^[A-Za-z0-9_\-.]+$")
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

    # Bearer tokens, signed by an OpenID Connect provider (ES256 or EdDSA) and verified against its
    # JWKS: discovered from OIDC_ISSUER, or JWKS_URL. OIDC_ISSUER is also the `iss` a token must carry.
    oidc_issuer: str | None = None
    jwks_url: str | None = None
    # The audience a token must name; default sib-<service>.
    token_audience: str | None = None
    token_algorithms: list[str] = Field(default_factory=lambda: ["ES256", "EdDSA"])
    token_max_lifetime: timedelta = Field(default=timedelta(hours=1), gt=timedelta(0))
    token_leeway_seconds: float = Field(default=30.0, ge=0)
    # Where the role and the programme scope are in a token (a dotted path reaches into an object,
    # such as Keycloak's realm_access.roles), and how the provider's role names map to the platform's.
    token_role_claim: str = "role"  # noqa: S105 (a claim name, not a secret)
    token_programmes_claim: str = "programmes"  # noqa: S105
    token_role_map: dict[str, str] = Field(default_factory=dict)
    # Keys are fetched again after this long, and at once (at most every jwks_min_refresh_seconds)
    # when a token names a key id not seen before: the provider has rotated its keys.
    jwks_refresh_seconds: float = Field(default=300.0, gt=0)
    jwks_min_refresh_seconds: float = Field(default=10.0, ge=0)
    # This service's own identity towards the others (OAuth 2.0 client credentials at the provider's
    # token endpoint, discovered or OIDC_TOKEN_URL). Default client id: sib-<service>.
    oidc_client_id: str | None = None
    oidc_client_secret: SecretStr | None = None
    oidc_token_url: str | None = None

    # Request bodies above this get a 413 before they are read into memory. A full batch of 10,000
    # status records is about 1.5 MB of JSON.
    max_body_bytes: int = Field(default=8 * 1024 * 1024, ge=1024)

    # CPython's cyclic garbage collector: a young collection every this many allocations (CPython's
    # default is 700), and how many young and middle collections before the next older one. At 700 a
    # service under load ran a collection every few requests; objects of the requests in flight then
    # outlived them into the oldest generation, and its full collections (the whole heap) stopped the
    # event loop: they made the single POST's p99 and took a large share of its CPU (figures:
    # docs/performance.md#third-session-2026-12-02).
    gc_thresholds: tuple[int, int, int] = (50_000, 20, 10)

    # Threads that compute reports (bootstrap, charts, large CSV and JSON documents) beside the event
    # loop (libs/common/offload.py); more reports than this wait their turn.
    report_workers: int = Field(default=2, ge=1, le=32)
    # How often the event loop's lag is sampled into sib_event_loop_lag_seconds (libs/common/loop_lag.py).
    event_loop_lag_interval_seconds: float = Field(default=0.25, gt=0, le=60)

    # The interactive API documentation (/docs, /openapi.json) on the public port; off takes them away.
    public_docs: bool = True
    # When set, Prometheus metrics are served on this port of their own (all interfaces) and /metrics
    # leaves the public port.
    metrics_port: int | None = Field(default=None, ge=1, le=65535)

    log_level: str = "INFO"
    log_json: bool = True

    @model_validator(mode="after")
    def _positive_gc_thresholds(self) -> Self:
        if min(self.gc_thresholds) < 1:
            raise ValueError("gc_thresholds must be three positive whole numbers")
        return self

    @field_validator("nats_url")
    @classmethod
    def _no_credentials_in_the_nats_url(cls, url: str) -> str:
        """No user or password in the URL, which is logged; they have settings of their own."""
        parsed = urlparse(url)
        if parsed.username is not None or parsed.password is not None:
            raise ValueError(
                "NATS_URL must not hold credentials (it is logged): set NATS_USER and NATS_PASSWORD, "
                "NATS_NKEY_SEED or NATS_CREDS_FILE"
            )
        return url

    @field_validator("token_algorithms")
    @classmethod
    def _asymmetric_token_algorithms_only(cls, algorithms: list[str]) -> list[str]:
        refused = [name for name in algorithms if name not in ASYMMETRIC_TOKEN_ALGORITHMS]
        if refused or not algorithms:
            accepted = ", ".join(sorted(ASYMMETRIC_TOKEN_ALGORITHMS))
            raise ValueError(
                f"TOKEN_ALGORITHMS takes public-key algorithms only ({accepted}); "
                f"refused: {', '.join(refused) or 'an empty list'}"
            )
        return algorithms

    @model_validator(mode="after")
    def _refuse_development_secrets_in_production(self) -> Self:
        if self.sib_env is Environment.production:
            for name, value in self._secret_fields():
                if value in DEVELOPMENT_SECRETS or value.startswith(DEV_CREDENTIAL_PREFIX):
                    raise ValueError(
                        f"{name} is a development secret; set a real one when SIB_ENV=production"
                    )
                if name != "nats_nkey_seed" and len(value) < 32:
                    raise ValueError(f"{name} must be at least 32 characters when SIB_ENV=production")
        return self

    @model_validator(mode="after")
    def _production_is_safe_by_default(self) -> Self:
        """Production refuses plaintext NATS, NATS without credentials, and tokens without an https
        identity provider (which excludes the development issuer)."""
        if self.sib_env is not Environment.production:
            return self
        if not self.nats_tls_required:
            raise ValueError("NATS_URL must use TLS (tls://, or NATS_TLS_CA) when SIB_ENV=production")
        if not self.has_nats_credentials:
            raise ValueError(
                "NATS credentials are required when SIB_ENV=production "
                "(NATS_CREDS_FILE, NATS_NKEY_SEED, or NATS_PASSWORD with NATS_USER)"
            )
        if self.oidc_issuer is None:
            raise ValueError("OIDC_ISSUER is required when SIB_ENV=production")
        for name, url in (("oidc_issuer", self.oidc_issuer), ("jwks_url", self.jwks_url)):
            if url is not None and urlparse(url).scheme != "https":
                raise ValueError(f"{name} must be an https URL when SIB_ENV=production")
        return self

    @property
    def has_nats_credentials(self) -> bool:
        return (
            self.nats_creds_file is not None
            or self.nats_nkey_seed is not None
            or self.nats_password is not None  # the user defaults to the service's name
        )

    @property
    def resolved_nats_user(self) -> str:
        return self.nats_user or self.service_name

    @property
    def resolved_nats_inbox_prefix(self) -> str:
        return self.nats_inbox_prefix or f"_INBOX.{self.resolved_nats_user}"

    @property
    def nats_tls_required(self) -> bool:
        return urlparse(self.nats_url).scheme == "tls" or self.nats_tls_ca is not None

    @property
    def expected_issuer(self) -> str:
        """The ``iss`` tokens must carry: OIDC_ISSUER, or the development issuer outside production."""
        return self.oidc_issuer or DEV_ISSUER_URL

    @property
    def resolved_token_audience(self) -> str:
        return self.token_audience or f"sib-{self.service_name}"

    @property
    def resolved_client_id(self) -> str:
        return self.oidc_client_id or f"sib-{self.service_name}"

    def _secret_fields(self) -> list[tuple[str, str]]:
        """Every SecretStr field, and each SecretStr of a list of them (the previous keys a rotation
        still reads), so subclasses' secrets are checked too."""
        found = []
        for name in type(self).model_fields:
            value = getattr(self, name)
            if isinstance(value, SecretStr):
                found.append((name, value.get_secret_value()))
            elif isinstance(value, list):
                found += [
                    (f"{name}[{index}]", item.get_secret_value())
                    for index, item in enumerate(value)
                    if isinstance(item, SecretStr)
                ]
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
