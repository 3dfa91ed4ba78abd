"""The terms settlement computes with."""

from __future__ import annotations

from dataclasses import dataclass

from libs.common.clock import utcnow
from libs.common.contracts import ProgrammePartiesPublishedV1, ProgrammeTerms, ProgrammeTermsPublishedV1
from libs.common.db import Database
from libs.common.errors import NotFound
from libs.common.logging import get_logger
from libs.common.uow import UnitOfWork
from services.settlement.domain import TermsVersion, terms_in_force
from services.settlement.models import ProgrammePartiesRow, ProgrammeTermsRow
from services.settlement.repository import PartiesRepository, TermsRepository
from services.settlement.services.months import recompute_programme

log = get_logger(__name__)


async def store_terms(uow: UnitOfWork, event: ProgrammeTermsPublishedV1) -> None:
    """Keep every terms version (immutable: a repeat changes nothing) and recompute the programme."""
    repo = TermsRepository(uow.session)
    if await repo.get(event.programme_id, event.version) is None:
        repo.add(
            ProgrammeTermsRow(
                programme_id=event.programme_id,
                version=event.version,
                name=event.name,
                effective_from=event.effective_from,
                terms=event.terms.model_dump(mode="json"),
                received_at=utcnow(),
            )
        )
        await uow.session.flush()
        await recompute_programme(uow, event.programme_id)
    log.info("programme_terms_stored", programme_id=event.programme_id, version=event.version)


async def store_parties(uow: UnitOfWork, event: ProgrammePartiesPublishedV1) -> None:
    """Keep every parties version (immutable: a repeat changes nothing). Nothing is recomputed: the
    parties name who invoices whom, not what a month is worth."""
    repo = PartiesRepository(uow.session)
    if await repo.get(event.programme_id, event.version) is None:
        repo.add(
            ProgrammePartiesRow(
                programme_id=event.programme_id,
                version=event.version,
                effective_from=event.effective_from,
                parties=event.parties.model_dump(mode="json"),
                published_at=event.published_at,
                received_at=utcnow(),
            )
        )
        await uow.session.flush()
    log.info("programme_parties_stored", programme_id=event.programme_id, version=event.version)


@dataclass(frozen=True)
class ProgrammeTermsView:
    programme_id: str
    name: str  # the latest version's
    in_force: TermsVersion | None  # today
    versions: list[TermsVersion]


async def programme_terms(database: Database, programme_id: str) -> ProgrammeTermsView:
    async with UnitOfWork(database) as uow:
        rows = await TermsRepository(uow.session).versions(programme_id)
    if not rows:
        raise NotFound(f"No programme {programme_id}.")
    versions = [
        TermsVersion(row.version, row.effective_from, ProgrammeTerms.model_validate(row.terms))
        for row in rows
    ]
    in_force = terms_in_force(versions, utcnow().date())
    return ProgrammeTermsView(programme_id, rows[-1].name, in_force, versions)
