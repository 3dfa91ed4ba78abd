"""Programme use cases: create a programme, publish a new terms version, read them."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from libs.common.auth import Principal
from libs.common.clock import utcnow
from libs.common.contracts import ProgrammeTerms, ProgrammeTermsPublishedV1
from libs.common.db import Database
from libs.common.errors import Conflict, NotFound, ValidationFailed
from libs.common.events import new_event
from libs.common.logging import get_logger
from libs.common.uow import UnitOfWork
from services.intake.domain import InvalidInput, Programme
from services.intake.models import ParticipantRow, ProgrammeRow, ProgrammeTermsRow
from services.intake.repository import ProgrammeRepository
from services.intake.schemas import ProgrammeCreate, TermsVersionCreate

log = get_logger(__name__)


@dataclass(frozen=True)
class Written:
    programme: Programme
    created: bool


def _same_or_conflict(existing: Programme, request: ProgrammeCreate) -> Written:
    # A retry without effective_from means "the one you already have", whatever day it is now.
    effective_from = request.effective_from or existing.versions[0].effective_from
    if existing.is_same_creation(request.name, effective_from, request.terms):
        return Written(existing, created=False)
    raise Conflict(
        f"Programme {existing.programme_id} already exists with other terms; publish a new terms version instead.",
        programme_id=existing.programme_id,
    )


def _publish(
    uow: UnitOfWork,
    programme_id: str,
    name: str,
    version: int,
    effective_from: date,
    terms: ProgrammeTerms,
    now: datetime,
) -> None:
    ProgrammeRepository(uow.session).add(
        ProgrammeTermsRow(
            programme_id=programme_id,
            version=version,
            effective_from=effective_from,
            terms=terms.model_dump(mode="json"),
            published_at=now,
        )
    )
    payload = ProgrammeTermsPublishedV1(
        programme_id=programme_id,
        name=name,
        version=version,
        effective_from=effective_from,
        published_at=now,
        terms=terms,
    )
    uow.emit(new_event(payload, subject=f"programme/{programme_id}"))


async def create_programme(database: Database, request: ProgrammeCreate) -> Written:
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
            _publish(uow, request.programme_id, request.name, 1, effective_from, request.terms, now)
            await uow.commit()
    except IntegrityError:
        # A concurrent creation of the same id won; decide against what it stored.
        async with UnitOfWork(database) as uow:
            existing = await ProgrammeRepository(uow.session).get(request.programme_id)
        if existing is None:
            raise
        return _same_or_conflict(existing, request)
    log.info("programme_created", programme_id=request.programme_id)
    return Written(await get_programme(database, request.programme_id), created=True)


async def publish_terms_version(
    database: Database, programme_id: str, request: TermsVersionCreate
) -> Written:
    """Publish a new terms version (never edit one). Repeating the latest version is a retry."""
    now = utcnow()
    try:
        async with UnitOfWork(database) as uow:
            repo = ProgrammeRepository(uow.session)
            programme = await repo.get(programme_id, for_update=True)
            if programme is None:
                raise NotFound(f"No programme {programme_id}.")
            try:
                version = programme.next_version(request.effective_from, request.terms)
            except InvalidInput as exc:
                raise ValidationFailed.for_field(exc.field or "body", exc.message) from exc
            if version is None:
                return Written(programme, created=False)
            in_use = (
                select(ParticipantRow.track).where(ParticipantRow.programme_id == programme_id).distinct()
            )
            tracks_in_use = set((await uow.session.scalars(in_use)).all())
            dropped = sorted(tracks_in_use - set(request.terms.tracks))
            if dropped:
                raise ValidationFailed.for_field(
                    "terms.tracks", f"track(s) {', '.join(dropped)} have participants and must stay"
                )
            _publish(uow, programme_id, programme.name, version, request.effective_from, request.terms, now)
            await uow.commit()
    except IntegrityError as exc:
        raise Conflict("Another terms version was published at the same moment; read and retry.") from exc
    log.info("programme_terms_published", programme_id=programme_id, version=version)
    return Written(await get_programme(database, programme_id), created=True)


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


async def note_invoiced(uow: UnitOfWork, programme_id: str, covers_through: str) -> None:
    """Settlement issued a statement covering months up to ``covers_through``: a later terms version
    must take effect after it. The caller (a consumer) commits with its inbox row."""
    row = await uow.session.get(ProgrammeRow, programme_id)
    if row is None:
        log.warning("statement_for_unknown_programme", programme_id=programme_id)
        return
    if row.invoiced_through is None or covers_through > row.invoiced_through:
        row.invoiced_through = covers_through
        log.info("programme_invoiced_through", programme_id=programme_id, month=covers_through)
