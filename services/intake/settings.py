"""Intake's settings: the common ones plus the keys that protect CPR numbers."""

from __future__ import annotations

from pydantic import SecretStr

from libs.common.settings import DEV_CPR_ENCRYPTION_KEY, DEV_CPR_HMAC_KEY, CommonSettings


class IntakeSettings(CommonSettings):
    service_name: str = "intake"
    # Keyed pseudonym of a CPR number (HMAC-SHA256); never a plain hash.
    cpr_hmac_key: SecretStr = SecretStr(DEV_CPR_HMAC_KEY)
    # Key that encrypts stored CPR numbers (AES-GCM, base64 of 32 bytes).
    cpr_encryption_key: SecretStr = SecretStr(DEV_CPR_ENCRYPTION_KEY)
