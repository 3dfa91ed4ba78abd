"""Intake's settings: the common ones plus the keys that protect CPR numbers."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import NoDecode

from libs.common.settings import DEV_CPR_ENCRYPTION_KEY, DEV_CPR_HMAC_KEY, CommonSettings


class IntakeSettings(CommonSettings):
    service_name: str = "intake"
    # Keyed pseudonym of a CPR number (HMAC-SHA256); never a plain hash.
    cpr_hmac_key: SecretStr = SecretStr(DEV_CPR_HMAC_KEY)
    # The pseudonym keys it replaced: lookups try them too until `make rotate-keys` has recomputed
    # every pseudonym (comma-separated in the environment).
    cpr_previous_hmac_keys: Annotated[list[SecretStr], NoDecode] = Field(default_factory=list)
    # Key that encrypts stored CPR numbers (AES-GCM, base64 of 32 bytes), and the keys it replaced:
    # still able to decrypt until every row is rotated (comma-separated in the environment).
    cpr_encryption_key: SecretStr = SecretStr(DEV_CPR_ENCRYPTION_KEY)
    cpr_previous_encryption_keys: Annotated[list[SecretStr], NoDecode] = Field(default_factory=list)
    # Where a citizen's right-of-access export gathers the other services' parts, with intake's own
    # identity (client sib-intake, role intake-service).
    progression_url: str = "http://127.0.0.1:8002"
    settlement_url: str = "http://127.0.0.1:8003"

    # How often the erasure job runs (retention passed, or ordered by the jobcenter); 0 turns it off
    # (then only POST /v1/admin/erasures/run erases).
    erasure_interval_seconds: float = Field(default=3600, ge=0)

    @field_validator("cpr_previous_encryption_keys", "cpr_previous_hmac_keys", mode="before")
    @classmethod
    def _split_keys(cls, value: object) -> object:
        if isinstance(value, str):
            return [part.strip() for part in value.split(",") if part.strip()]
        return value
