"""Settlement: fee-eligible months, immutable statements with adjustments, and outcomes."""

from __future__ import annotations

from pathlib import Path

import httpx
from fastapi import FastAPI

from libs.common.app import ServiceDefinition, create_service_app
from services.settlement.api import router
from services.settlement.handlers import CONSUMERS
from services.settlement.services.gaps import gap_repair_job
from services.settlement.settings import SettlementSettings

MIGRATIONS = Path(__file__).parent / "migrations"


def create_app(
    settings: SettlementSettings | None = None, progression_transport: httpx.AsyncBaseTransport | None = None
) -> FastAPI:
    return create_service_app(
        settings or SettlementSettings(),
        ServiceDefinition(
            name="settlement",
            title="SIB settlement",
            description="Fee-eligible months recomputed on every status change, immutable statements "
            "with adjustments, cap and split, and the outcome against the control group.",
            migrations_dir=MIGRATIONS,
            routers=[router],
            consumers=CONSUMERS,
            background=[gap_repair_job(progression_transport)],
        ),
    )
