"""Programmes in progression: the terms it keeps a copy of, and the data cut-off it owns."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from libs.common.auth import Principal
from libs.common.clock import as_utc, utcnow
from libs.common.contracts import CutoffAdvancedV1, ProgrammeTermsPublishedV1
from libs.common.db import Database
from libs.common.errors import Conflict, NotFound
from libs.common.events import new_event
from libs.common.logging import get_logger
from libs.common.uow import UnitOfWork
from services.progression.domain import effective_categories, is_newer_terms
from services.progression.models import CutoffRow, ProgrammeRow
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


@dataclass(frozen=True)
class CutoffResult:
    programme_id: str
    complete_through: date
    previous: date | None
    recorded_at: datetime


async def advance_cutoff(
    database: Database, principal: Principal, programme_id: str, complete_through: date
) -> CutoffResult:
    """Declare every benefit period up to ``complete_through`` reported. It only moves forward (409
    otherwise); the same date again is a retry and changes nothing."""
    if not principal.can_access(programme_id):
        raise NotFound(f"No programme {programme_id}.")
    async with UnitOfWork(database) as uow:
        repo = ProgrammeRepository(uow.session)
        programme = await repo.get(programme_id, for_update=True)
        if programme is None:
            raise NotFound(f"No programme {programme_id}.")
        current = programme.data_complete_through
        if current is not None and complete_through == current:
            history = await repo.cutoffs(programme_id)
            previous = history[-2].complete_through if len(history) > 1 else None
            return CutoffResult(programme_id, current, previous, as_utc(history[-1].recorded_at))
        if current is not None and complete_through < current:
            raise Conflict(
                f"The data cut-off only moves forward; it is {current.isoformat()}.",
                complete_through=current.isoformat(),
            )
        now = utcnow()
        programme.data_complete_through = complete_through
        programme.updated_at = now
        repo.add(CutoffRow(programme_id=programme_id, complete_through=complete_through, recorded_at=now))
        uow.emit(
            new_event(
                CutoffAdvancedV1(
                    programme_id=programme_id,
                    complete_through=complete_through,
                    previous=current,
                    recorded_at=now,
                ),
                subject=f"programme/{programme_id}",
            )
        )
        await uow.commit()
    log.info("cutoff_advanced", programme_id=programme_id, complete_through=complete_through.isoformat())
    return CutoffResult(programme_id, complete_through, current, now)
