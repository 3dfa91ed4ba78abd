"""Progression's settings."""

from __future__ import annotations

from pydantic import SecretStr

from libs.common.settings import DEV_CPR_HMAC_KEY, CommonSettings


class ProgressionSettings(CommonSettings):
    service_name: str = "progression"
    # The same key as intake's: a posted CPR becomes its pseudonym here and is then forgotten.
    cpr_hmac_key: SecretStr = SecretStr(DEV_CPR_HMAC_KEY)
    # Where to read a participant that progression has not heard of yet (a status posted right after
    # the enrolment call returned, before the event arrived).
    intake_url: str = "http://127.0.0.1:8001"
