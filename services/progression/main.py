"""Progression: the bitemporal benefit-status timeline, the data cut-off, and progression measurements."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
from fastapi import FastAPI

from libs.common.app import Runtime, ServiceDefinition, create_service_app
from libs.common.openapi import links_from
from services.progression.adapters import StatusWriter
from services.progression.api import router
from services.progression.handlers import CONSUMERS
from services.progression.services.context import IntakeDirectory
from services.progression.settings import ProgressionSettings

MIGRATIONS = Path(__file__).parent / "migrations"


# What a create answers names the object that other operations read or change (OpenAPI links; the API
# fuzzer's stateful phase follows them to real objects).
_PARTICIPANT = "/v1/participants/{participant_id}"
_SAME_PARTICIPANT = {"participant_id": "$request.path.participant_id"}
LINKS = [
    *links_from(
        ("POST", "/v1/status-records", 201),
        {"participant_id": "$response.body#/participant_id"},
        StatusRecords=("GET", f"{_PARTICIPANT}/status-records"),
        Timeline=("GET", f"{_PARTICIPANT}/timeline"),
        Measure=("POST", f"{_PARTICIPANT}/measurements"),
        Milestone=("POST", f"{_PARTICIPANT}/milestones"),
    ),
    *links_from(
        ("POST", f"{_PARTICIPANT}/measurements", 201),
        _SAME_PARTICIPANT,
        Measurements=("GET", f"{_PARTICIPANT}/measurements"),
    ),
    *links_from(
        ("POST", f"{_PARTICIPANT}/milestones", 201),
        _SAME_PARTICIPANT,
        Milestones=("GET", f"{_PARTICIPANT}/milestones"),
    ),
]


def create_app(
    settings: ProgressionSettings | None = None, intake_transport: httpx.AsyncBaseTransport | None = None
) -> FastAPI:
    settings = settings or ProgressionSettings()
    directory = IntakeDirectory(settings, transport=intake_transport)
    fingerprint_key = settings.request_fingerprint_key.get_secret_value().encode()

    def running_state(runtime: Runtime) -> dict[str, Any]:
        return {"status_writer": StatusWriter(runtime.database, directory, fingerprint_key)}

    return create_service_app(
        settings,
        ServiceDefinition(
            name="progression",
            title="SIB progression",
            description="Each citizen's benefit-status timeline as the jobcenter reports it, late and "
            "corrected; the data cut-off; the provider's progression measurements and milestones.",
            migrations_dir=MIGRATIONS,
            routers=[router],
            links=LINKS,
            consumers=CONSUMERS,
            extra_state={"intake_directory": directory},
            running_state=running_state,
            shutdown_hooks=[directory.close],
        ),
    )
