"""Finding participants by CPR (one, or many in a batch), and many by id for progression."""

from __future__ import annotations

from dataclasses import dataclass

from libs.common.auth import Role
from libs.common.cpr import Cpr, CprError, parse_cpr
from libs.common.db import Database
from libs.common.errors import Forbidden
from libs.common.uow import UnitOfWork
from services.intake.models import ParticipantRow
from services.intake.repository import (
    ParticipantRepository,
    to_participant,
)
from services.intake.services.participants.common import (
    ParticipantView,
    log,
    parse_cpr_field,
)
from services.intake.services.protection import Caller, CprProtection, audit, audit_many


async def lookup(
    database: Database, protection: CprProtection, caller: Caller, raw_cpr: str
) -> list[ParticipantView]:
    """Find a citizen's participations by CPR (jobcenter only), within the token's programmes."""
    cpr = parse_cpr_field(raw_cpr)
    async with UnitOfWork(database) as uow:
        rows = [
            row
            for row in await ParticipantRepository(uow.session).by_pseudonyms(protection.pseudonyms(cpr))
            if caller.principal.can_access(row.programme_id)
        ]
        if not rows:
            audit(uow, caller, "lookup", None)
        for row in rows:
            audit(uow, caller, "lookup", row.participant_id)
        views = [ParticipantView(to_participant(row), cpr) for row in rows]
        await uow.commit()
    return views


@dataclass(frozen=True)
class LookupAnswer:
    """One position of a batch lookup: the participations found (without the number: the caller knows
    which CPR it sent at this index), or what is wrong with the CPR."""

    index: int
    participants: list[ParticipantView] | None = None
    error: str | None = None


async def lookup_batch(
    database: Database, protection: CprProtection, caller: Caller, raw_cprs: list[str]
) -> list[LookupAnswer]:
    """Many citizens' participations by CPR (jobcenter only), within the token's programmes: one query
    for all of them and one insert of their audit rows. An invalid CPR is answered at its index and does
    not fail the others. Each distinct valid CPR is audited as ``/lookup`` audits one: a row per
    participation found, or one without a participant when none is."""
    parsed: list[Cpr | str] = []
    for raw in raw_cprs:
        try:
            parsed.append(parse_cpr(raw))
        except CprError as exc:  # the message never contains the number
            parsed.append(str(exc))
    # Every configured pseudonym key's pseudonym, each leading back to its number: during a rotation a
    # citizen's rows may be under either key.
    owners = {
        pseudonym: cpr.digits
        for cpr in parsed
        if isinstance(cpr, Cpr)
        for pseudonym in protection.pseudonyms(cpr)
    }
    distinct = list(dict.fromkeys(owners.values()))  # each citizen once, in the order asked
    async with UnitOfWork(database) as uow:
        found: dict[str, list[ParticipantRow]] = {}
        for row in await ParticipantRepository(uow.session).by_pseudonyms(owners):
            if caller.principal.can_access(row.programme_id):
                found.setdefault(owners[row.cpr_pseudonym], []).append(row)
        audited: list[str | None] = []
        for digits in distinct:
            audited += [r.participant_id for r in found.get(digits, [])] or [None]
        await audit_many(uow, caller, "lookup", audited)
        await uow.commit()
    answers = []
    for index, cpr in enumerate(parsed):
        if isinstance(cpr, str):
            answers.append(LookupAnswer(index, error=cpr))
        else:
            rows = found.get(cpr.digits, [])
            answers.append(
                LookupAnswer(index, participants=[ParticipantView(to_participant(r), None) for r in rows])
            )
    log.info(
        "participants_looked_up",
        cprs=len(distinct),
        invalid=len(parsed) - sum(isinstance(c, Cpr) for c in parsed),
    )
    return answers


async def read_batch(database: Database, caller: Caller, participant_ids: list[str]) -> list[ParticipantView]:
    """Many participants by id, in one query: what progression reads, with its own identity, of the
    participants a status batch names before their events have reached it. Each id is answered once,
    in request order; one that does not exist or is outside the token's programmes is left out (the
    single read answers both 404). No CPR number is shown, to anyone, the jobcenter included: the
    caller named the participants by id and needs no number, so nothing is decrypted or audited."""
    principal = caller.principal
    if principal.role in (Role.investor, Role.integrator):
        raise Forbidden("Person-level data is not available to this role.")
    async with UnitOfWork(database, read_only=True) as uow:
        rows = {
            row.participant_id: row
            for row in await ParticipantRepository(uow.session).by_ids(participant_ids)
            if principal.can_access(row.programme_id)
        }
    asked = list(dict.fromkeys(participant_ids))
    views = [ParticipantView(to_participant(rows[pid]), None) for pid in asked if pid in rows]
    log.info("participants_read", asked=len(asked), found=len(views))
    return views
