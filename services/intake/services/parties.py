"""Parties use cases: publish a new version of a programme's parties, read them."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from sqlalchemy.exc import IntegrityError

from libs.common.auth import Principal, Role
from libs.common.clock import utcnow
from libs.common.contracts import Creditor, ProgrammeParties, ProgrammePartiesPublishedV1
from libs.common.db import Database
from libs.common.errors import Conflict, NotFound, ValidationFailed
from libs.common.events import new_event
from libs.common.logging import get_logger
from libs.common.uow import UnitOfWork
from services.intake.domain import InvalidInput, PartiesVersion, next_parties_version
from services.intake.models import ProgrammePartiesRow
from services.intake.repository import PartiesRepository, ProgrammeRepository

log = get_logger(__name__)

# Who sees the creditors' bank accounts whole: a token does not say which party a provider or an
# investor user speaks for, so they see the accounts masked. Finance pays into them.
SEES_BANK_ACCOUNTS = frozenset({Role.jobcenter, Role.finance, Role.admin, Role.auditor})


@dataclass(frozen=True)
class PartiesView:
    programme_id: str
    versions: tuple[PartiesVersion, ...]  # oldest first
    created: bool = False

    @property
    def current(self) -> PartiesVersion | None:
        return self.versions[-1] if self.versions else None


def _retry_of(versions: list[PartiesVersion], effective_from: date, parties: ProgrammeParties) -> bool:
    return (
        bool(versions) and versions[-1].effective_from == effective_from and versions[-1].parties == parties
    )


async def publish_parties(
    database: Database,
    principal: Principal,
    programme_id: str,
    effective_from: date,
    parties: ProgrammeParties,
) -> PartiesView:
    """Publish a new version of the parties (never edit one). Repeating the latest version is a retry:
    it is returned, not created."""
    if not principal.can_access(programme_id):
        raise NotFound(f"No programme {programme_id}.")
    now = utcnow()
    try:
        async with UnitOfWork(database) as uow:
            # Lock the programme: two publications of one programme queue here (PostgreSQL row lock).
            if await ProgrammeRepository(uow.session).get(programme_id, for_update=True) is None:
                raise NotFound(f"No programme {programme_id}.")
            repo = PartiesRepository(uow.session)
            versions = await repo.versions(programme_id)
            try:
                version = next_parties_version(versions, effective_from, parties)
            except InvalidInput as exc:
                raise ValidationFailed.for_field(exc.field or "body", exc.message) from exc
            if version is None:
                return PartiesView(programme_id, tuple(versions), created=False)
            repo.add(
                ProgrammePartiesRow(
                    programme_id=programme_id,
                    version=version,
                    effective_from=effective_from,
                    parties=parties.model_dump(mode="json"),
                    published_at=now,
                    recorded_by=principal.subject,
                )
            )
            payload = ProgrammePartiesPublishedV1(
                programme_id=programme_id,
                version=version,
                effective_from=effective_from,
                published_at=now,
                parties=parties,
            )
            uow.emit(new_event(payload, subject=f"programme/{programme_id}"))
            await uow.commit()
    except IntegrityError as exc:
        # A concurrent publication took the version number: a retry of the same content is that one.
        async with UnitOfWork(database) as uow:
            versions = await PartiesRepository(uow.session).versions(programme_id)
        if _retry_of(versions, effective_from, parties):
            return PartiesView(programme_id, tuple(versions), created=False)
        raise Conflict("Another parties version was published at the same moment; read and retry.") from exc
    log.info("programme_parties_published", programme_id=programme_id, version=version)
    return PartiesView(programme_id, tuple(await _versions(database, programme_id)), created=True)


async def _versions(database: Database, programme_id: str) -> list[PartiesVersion]:
    async with UnitOfWork(database) as uow:
        if await ProgrammeRepository(uow.session).get(programme_id) is None:
            raise NotFound(f"No programme {programme_id}.")
        return await PartiesRepository(uow.session).versions(programme_id)


def _masked(creditor: Creditor) -> Creditor:
    return creditor.model_copy(update={"bank_account": creditor.bank_account.masked()})


def as_seen_by(principal: Principal, version: PartiesVersion) -> PartiesVersion:
    """The version as this caller may see it: bank accounts masked unless the role sees them whole."""
    if principal.role in SEES_BANK_ACCOUNTS:
        return version
    parties = version.parties.model_copy(
        update={"provider": _masked(version.parties.provider), "investor": _masked(version.parties.investor)}
    )
    return PartiesVersion(
        version.version, version.effective_from, version.published_at, version.recorded_by, parties
    )


async def read_parties(database: Database, principal: Principal, programme_id: str) -> PartiesView:
    """Every version of the programme's parties (none yet: an empty list), as the caller may see them."""
    if not principal.can_access(programme_id):
        raise NotFound(f"No programme {programme_id}.")
    versions = await _versions(database, programme_id)
    return PartiesView(programme_id, tuple(as_seen_by(principal, v) for v in versions))


def published(view: PartiesView, principal: Principal) -> PartiesView:
    """A publication's answer, as its caller may see it."""
    return PartiesView(
        view.programme_id, tuple(as_seen_by(principal, v) for v in view.versions), view.created
    )
