"""Intake: programmes and their terms, participants, and the only copy of CPR numbers."""

from __future__ import annotations

from pathlib import Path

import httpx
from fastapi import FastAPI

from libs.common.app import ServiceDefinition, create_service_app
from libs.common.openapi import links_from
from services.intake.api import router
from services.intake.handlers import CONSUMERS
from services.intake.services.erasure import erasure_job
from services.intake.services.peers import PersonalDataSources
from services.intake.services.protection import CprProtection
from services.intake.settings import IntakeSettings

MIGRATIONS = Path(__file__).parent / "migrations"


# What a create answers names the object that other operations read or change (OpenAPI links; the API
# fuzzer's stateful phase follows them to real objects).
_PARTICIPANT = "/v1/participants/{participant_id}"
_PROGRAMME = "/v1/programmes/{programme_id}"
LINKS = [
    *links_from(
        ("POST", "/v1/participants", 201),
        {"participant_id": "$response.body#/participant_id"},
        GetParticipant=("GET", _PARTICIPANT),
        Enrol=("POST", f"{_PARTICIPANT}/enrolment"),
        Withdraw=("POST", f"{_PARTICIPANT}/withdrawal"),
        SetCoach=("PUT", f"{_PARTICIPANT}/coach"),
        Audit=("GET", "/v1/audit"),
        OrderErasure=("POST", f"{_PARTICIPANT}/erasure-order"),
    ),
    *links_from(
        ("POST", "/v1/programmes", 201),
        {"programme_id": "$response.body#/programme_id"},
        GetProgramme=("GET", _PROGRAMME),
        PublishTerms=("POST", f"{_PROGRAMME}/terms"),
    ),
]


def create_app(
    settings: IntakeSettings | None = None, peer_transports: dict[str, httpx.AsyncBaseTransport] | None = None
) -> FastAPI:
    """``peer_transports``: progression's and settlement's, by name (the tests' in-process services)."""
    settings = settings or IntakeSettings()
    sources = PersonalDataSources(settings, peer_transports)
    return create_service_app(
        settings,
        ServiceDefinition(
            name="intake",
            title="SIB intake",
            description="Programmes and contract terms, referral, consent, enrolment and withdrawal. "
            "The only service that holds CPR numbers.",
            migrations_dir=MIGRATIONS,
            routers=[router],
            links=LINKS,
            consumers=CONSUMERS,
            extra_state={
                "cpr_protection": CprProtection.from_settings(settings),
                "personal_data_sources": sources,
            },
            shutdown_hooks=[sources.close],
            background=[erasure_job()],
        ),
    )
