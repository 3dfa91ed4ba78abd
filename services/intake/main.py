"""Intake: programmes and their terms, participants, and the only copy of CPR numbers."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI

from libs.common.app import ServiceDefinition, create_service_app
from services.intake.api import router
from services.intake.handlers import CONSUMERS
from services.intake.services.protection import CprProtection
from services.intake.settings import IntakeSettings

MIGRATIONS = Path(__file__).parent / "migrations"


def create_app(settings: IntakeSettings | None = None) -> FastAPI:
    settings = settings or IntakeSettings()
    return create_service_app(
        settings,
        ServiceDefinition(
            name="intake",
            title="SIB intake",
            description="Programmes and contract terms, referral, consent, enrolment and withdrawal. "
            "The only service that holds CPR numbers.",
            migrations_dir=MIGRATIONS,
            routers=[router],
            consumers=CONSUMERS,
            extra_state={"cpr_protection": CprProtection.from_settings(settings)},
        ),
    )
