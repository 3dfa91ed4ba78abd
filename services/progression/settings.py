"""Progression's settings."""

from __future__ import annotations

from libs.common.settings import CommonSettings


class ProgressionSettings(CommonSettings):
    service_name: str = "progression"
