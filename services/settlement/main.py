"""Settlement: fee-eligible months, immutable statements with adjustments, and outcomes."""

from __future__ import annotations

from pathlib import Path

import httpx
from fastapi import FastAPI

from libs.common.app import ServiceDefinition, create_service_app
from libs.common.openapi import links_from
from services.settlement.api import router
from services.settlement.handlers import CONSUMERS
from services.settlement.services.gaps import gap_repair_job
from services.settlement.settings import SettlementSettings

MIGRATIONS = Path(__file__).parent / "migrations"


# What a create answers names the object that other operations read or change (OpenAPI links; the API
# fuzzer's stateful phase follows them to real objects).
_STATEMENTS = "/v1/programmes/{programme_id}/statements"
_SPENDING = "/v1/programmes/{programme_id}/municipal-spending"
_STATEMENT = {"statement_id": "$response.body#/statement_id"}
LINKS = [
    *links_from(
        ("POST", _STATEMENTS, 201), _STATEMENT, GetStatement=("GET", "/v1/statements/{statement_id}")
    ),
    *links_from(
        ("POST", _STATEMENTS, 200), _STATEMENT, GetStatement=("GET", "/v1/statements/{statement_id}")
    ),
    *links_from(
        ("POST", _SPENDING, 201), {"programme_id": "$request.path.programme_id"}, Spending=("GET", _SPENDING)
    ),
]


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
            links=LINKS,
            consumers=CONSUMERS,
            background=[gap_repair_job(progression_transport)],
        ),
    )
