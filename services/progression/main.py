"""Progression: the bitemporal benefit-status timeline, the data cut-off, and progression measurements."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI

from libs.common.app import ServiceDefinition, create_service_app
from services.progression.api import router
from services.progression.handlers import CONSUMERS
from services.progression.settings import ProgressionSettings

MIGRATIONS = Path(__file__).parent / "migrations"


def create_app(settings: ProgressionSettings | None = None) -> FastAPI:
    return create_service_app(
        settings or ProgressionSettings(),
        ServiceDefinition(
            name="progression",
            title="SIB progression",
            description="Each citizen's benefit-status timeline as the jobcenter reports it, late and "
            "corrected; the data cut-off; the provider's progression measurements and milestones.",
            migrations_dir=MIGRATIONS,
            routers=[router],
            consumers=CONSUMERS,
        ),
    )
