"""Settlement's settings."""

from __future__ import annotations

from pydantic import Field

from libs.common.settings import CommonSettings


class SettlementSettings(CommonSettings):
    service_name: str = "settlement"
    # Gap repair: a hole in a participant's recording sequence that the missing event has not filled
    # within the grace period is repaired by reading the participant's records from progression.
    progression_url: str = "http://127.0.0.1:8002"
    gap_grace_seconds: float = Field(default=10.0, ge=0)
    gap_check_interval_seconds: float = Field(default=1.0, gt=0)
