"""A citizen's right of access (GDPR art. 15): everything the platform holds about the citizen in one
programme, gathered from the three services, asked for by the programme's jobcenter with the CPR."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from libs.common.auth import Role
from libs.common.clock import utcnow
from libs.common.db import Database
from libs.common.errors import Forbidden, NotFound
from libs.common.logging import get_logger
from libs.common.uow import UnitOfWork
from services.intake.repository import (
    AuditRepository,
    ParticipantRepository,
    ProgrammeRepository,
    to_participant,
)
from services.intake.services.audit import AuditEntry, entry_of
from services.intake.services.participants import ParticipantView, parse_cpr_field
from services.intake.services.peers import PersonalDataSources
from services.intake.services.protection import Caller, CprProtection, audit, reveal

log = get_logger(__name__)

# The action of the CPR audit row an export leaves (the endpoint is named beside it).
EXPORT_ACTION = "access-export"
# The most audit rows of one participant an export lists (far above any real participant's).
AUDIT_ROWS_MAX = 100_000


@dataclass(frozen=True)
class ProgrammeBasis:
    """The programme the citizen takes part in and why the data is processed and how long it is kept."""

    programme_id: str
    name: str
    terms_version: int
    legal_basis: str
    retention_years: int


@dataclass(frozen=True)
class AccessExport:
    generated_at: datetime  # in UTC
    requested_by: str  # the jobcenter token's subject
    programme: ProgrammeBasis
    participant: ParticipantView
    cpr_audit: list[AuditEntry]
    # The other services' parts as they answer them (None: the service holds nothing of the participant).
    parts: dict[str, dict[str, Any] | None]


async def access_export(
    database: Database,
    protection: CprProtection,
    sources: PersonalDataSources,
    caller: Caller,
    programme_id: str,
    raw_cpr: str,
) -> AccessExport:
    """The citizen's participation in the programme with every other service's part. Only the
    programme's jobcenter asks (403 otherwise); an unknown programme or a CPR with no participation in
    it is a 404 that does not repeat the number. The request is audited (a CPR audit row, committed
    before the other services are asked, so a failed export is on record too); a service that does
    not answer fails the whole export (503 naming it), never a partial document."""
    principal = caller.principal
    if principal.role is not Role.jobcenter:
        raise Forbidden("Only the programme's jobcenter exports a citizen's data.")
    principal.require_programme(programme_id)
    cpr = parse_cpr_field(raw_cpr)
    async with UnitOfWork(database) as uow:
        programme = await ProgrammeRepository(uow.session).get(programme_id)
        if programme is None:
            raise NotFound("No such programme.")
        rows = await ParticipantRepository(uow.session).by_pseudonyms(
            protection.pseudonyms(cpr), programme_id
        )
        if not rows:
            audit(uow, caller, EXPORT_ACTION, None)
            await uow.commit()
            raise NotFound("No participant with this CPR number in the programme.")
        row = rows[0]  # one participation per citizen and programme (a unique constraint)
        revealed = reveal(uow, protection, caller, row, action=EXPORT_ACTION)
        await uow.session.flush()
        audit_rows = await AuditRepository(uow.session).page(row.participant_id, None, None, AUDIT_ROWS_MAX)
        view = ParticipantView(to_participant(row), revealed)
        await uow.commit()
    terms = programme.current
    parts = await sources.parts(row.participant_id)
    log.info(
        "access_export_made",
        participant_id=row.participant_id,
        programme_id=programme_id,
        held_by=sorted(name for name, part in parts.items() if part is not None),
    )
    return AccessExport(
        generated_at=utcnow(),
        requested_by=principal.subject,
        programme=ProgrammeBasis(
            programme.programme_id,
            programme.name,
            terms.version,
            terms.terms.legal_basis,
            terms.terms.retention_years,
        ),
        participant=view,
        cpr_audit=[entry_of(r) for r in audit_rows],
        parts=parts,
    )
