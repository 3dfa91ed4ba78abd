"""Progression: the bitemporal benefit-status timeline, the data cut-off, and progression measurements."""

from __future__ import annotations

from pathlib import Path

import httpx
from fastapi import FastAPI

from libs.common.app import ServiceDefinition, create_service_app
from services.progression.api import router
from services.progression.handlers import CONSUMERS
from services.progression.services.context import IntakeDirectory
from services.progression.settings import ProgressionSettings

MIGRATIONS = Path(__file__).parent / "migrations"


def create_app(
    settings: ProgressionSettings | None = None, intake_transport: httpx.AsyncBaseTransport | None = None
) -> FastAPI:
    settings = settings or ProgressionSettings()
    directory = IntakeDirectory(settings, transport=intake_transport)
    return create_service_app(
        settings,
        ServiceDefinition(
            name="progression",
            title="SIB progression",
            description="Each citizen's benefit-status timeline as the jobcenter reports it, late and "
            "corrected; the data cut-off; the provider's progression measurements and milestones.",
            migrations_dir=MIGRATIONS,
            routers=[router],
            consumers=CONSUMERS,
            extra_state={"intake_directory": directory},
            shutdown_hooks=[directory.close],
        ),
    )
