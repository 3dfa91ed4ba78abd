"""Intake's use cases: the only place that commits and emits events."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.exc import IntegrityError

from libs.common.auth import Principal
from libs.common.clock import utcnow
from libs.common.contracts import ProgrammeTermsPublishedV1
from libs.common.db import Database
from libs.common.errors import Conflict, NotFound
from libs.common.events import new_event
from libs.common.logging import get_logger
from libs.common.uow import UnitOfWork
from services.intake.domain import Programme
from services.intake.models import ProgrammeRow, ProgrammeTermsRow
from services.intake.repository import ProgrammeRepository
from services.intake.schemas import ProgrammeCreate

log = get_logger(__name__)


@dataclass(frozen=True)
class Created:
    programme: Programme
    created: bool


def _same_or_conflict(existing: Programme, request: ProgrammeCreate) -> Created:
    # A retry without effective_from means "the one you already have", whatever day it is now.
    effective_from = request.effective_from or existing.versions[0].effective_from
    if existing.is_same_creation(request.name, effective_from, request.terms):
        return Created(existing, created=False)
    raise Conflict(
        f"Programme {existing.programme_id} already exists with other terms; "
        "publish a new terms version instead.",
        programme_id=existing.programme_id,
    )


async def create_programme(database: Database, request: ProgrammeCreate) -> Created:
    """Create a programme with its first terms and announce them. A retry with the same content
    returns the programme (not created); other content for the same id is a conflict."""
    now = utcnow()
    effective_from = request.effective_from or now.date()
    try:
        async with UnitOfWork(database) as uow:
            repo = ProgrammeRepository(uow.session)
            existing = await repo.get(request.programme_id)
            if existing is not None:
                return _same_or_conflict(existing, request)
            repo.add(ProgrammeRow(programme_id=request.programme_id, name=request.name, created_at=now))
            await repo.flush()
            repo.add_terms(
                ProgrammeTermsRow(
                    programme_id=request.programme_id,
                    version=1,
                    effective_from=effective_from,
                    terms=request.terms.model_dump(mode="json"),
                    published_at=now,
                )
            )
            payload = ProgrammeTermsPublishedV1(
                programme_id=request.programme_id,
                name=request.name,
                version=1,
                effective_from=effective_from,
                published_at=now,
                terms=request.terms,
            )
            uow.emit(new_event(payload, subject=f"programme/{request.programme_id}"))
            await uow.commit()
    except IntegrityError:
        # A concurrent creation of the same id won; decide against what it stored.
        async with UnitOfWork(database) as uow:
            existing = await ProgrammeRepository(uow.session).get(request.programme_id)
        if existing is None:
            raise
        return _same_or_conflict(existing, request)
    log.info("programme_created", programme_id=request.programme_id)
    programme = await get_programme(database, request.programme_id)
    return Created(programme, created=True)


async def get_programme(database: Database, programme_id: str) -> Programme:
    async with UnitOfWork(database) as uow:
        programme = await ProgrammeRepository(uow.session).get(programme_id)
    if programme is None:
        raise NotFound(f"No programme {programme_id}.")
    return programme


async def list_programmes(database: Database, principal: Principal) -> list[Programme]:
    async with UnitOfWork(database) as uow:
        programmes = await ProgrammeRepository(uow.session).list()
    return [p for p in programmes if principal.can_access(p.programme_id)]
