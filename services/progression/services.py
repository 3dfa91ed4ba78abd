"""Progression's use cases: the only place that commits and emits events."""

from __future__ import annotations

from libs.common.clock import utcnow
from libs.common.contracts import ProgrammeTermsPublishedV1
from libs.common.db import Database
from libs.common.errors import NotFound
from libs.common.logging import get_logger
from libs.common.uow import UnitOfWork
from services.progression.domain import effective_categories, is_newer_terms
from services.progression.models import ProgrammeRow
from services.progression.repository import ProgrammeRepository
from services.progression.schemas import ProgrammeOut

log = get_logger(__name__)


async def apply_terms(uow: UnitOfWork, event: ProgrammeTermsPublishedV1) -> None:
    """Keep the programme's current terms; the caller (a consumer) commits with its inbox row."""
    repo = ProgrammeRepository(uow.session)
    row = await repo.get(event.programme_id)
    categories = {
        k.value: v.value for k, v in effective_categories(dict(event.terms.status_categories)).items()
    }
    if row is None:
        repo.add(
            ProgrammeRow(
                programme_id=event.programme_id,
                name=event.name,
                terms_version=event.version,
                status_categories=categories,
                data_complete_through=None,
                updated_at=utcnow(),
            )
        )
    elif is_newer_terms(row.terms_version, event.version):
        row.name = event.name
        row.terms_version = event.version
        row.status_categories = categories
        row.updated_at = utcnow()
    log.info("programme_terms_applied", programme_id=event.programme_id, version=event.version)


async def get_programme(database: Database, programme_id: str) -> ProgrammeOut:
    async with UnitOfWork(database) as uow:
        row = await ProgrammeRepository(uow.session).get(programme_id)
        if row is None:
            raise NotFound(f"No programme {programme_id}.")
        return ProgrammeOut.model_validate(row, from_attributes=True)
