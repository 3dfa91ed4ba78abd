"""Settlement's settings."""

from __future__ import annotations

from libs.common.settings import CommonSettings


class SettlementSettings(CommonSettings):
    service_name: str = "settlement"
