"""Progression's settings. No CPR key: a CPR posted by a jobcenter is resolved by intake."""

from __future__ import annotations

from pydantic import SecretStr

from libs.common.settings import DEV_REQUEST_FINGERPRINT_KEY, CommonSettings


class ProgressionSettings(CommonSettings):
    service_name: str = "progression"
    # Where to read participants from: by CPR for a jobcenter's CPR-based status posts (the batch
    # lookup), and by id when a status arrives before the participant's event.
    intake_url: str = "http://127.0.0.1:8001"
    # Keys the fingerprint of a status batch kept for its Idempotency-Key: the body may hold CPR numbers,
    # and a plain hash of it could be reversed by trying every number. Progression's own secret.
    request_fingerprint_key: SecretStr = SecretStr(DEV_REQUEST_FINGERPRINT_KEY)
