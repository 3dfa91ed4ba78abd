"""What every participant use case shares: the view it returns, the CPR parsed at the edge, who may
see a participant, and the participant loaded for a change."""

from __future__ import annotations

from dataclasses import dataclass

from libs.common.auth import Principal, Role
from libs.common.cpr import Cpr, CprError, parse_cpr
from libs.common.errors import Conflict, Forbidden, NotFound, ProblemError, ValidationFailed
from libs.common.logging import get_logger
from libs.common.uow import UnitOfWork
from services.intake.domain import InvalidInput, Participant, RuleViolation
from services.intake.models import ParticipantRow
from services.intake.repository import (
    ParticipantRepository,
    to_participant,
)
from services.intake.services.protection import Caller, CprProtection, reveal

# One logger name for the package, the name it had as one module.
log = get_logger("services.intake.services.participants")


@dataclass(frozen=True)
class ParticipantView:
    participant: Participant
    cpr: Cpr | None  # only for the jobcenter


@dataclass(frozen=True)
class Page:
    items: list[ParticipantView]
    next_cursor: str | None


def parse_cpr_field(raw: str, field: str = "cpr") -> Cpr:
    try:
        return parse_cpr(raw)
    except CprError as exc:  # the message never contains the number
        raise ValidationFailed.for_field(field, str(exc)) from exc


def _problem(exc: RuleViolation) -> ProblemError:
    if isinstance(exc, InvalidInput):
        return ValidationFailed.for_field(exc.field or "body", exc.message)
    return Conflict(exc.message)


def _require_person_level_access(caller: Caller, programme_id: str) -> None:
    principal = caller.principal
    if principal.role in (Role.investor, Role.integrator):
        raise Forbidden("Person-level data is not available to this role.")
    if not principal.can_access(programme_id):
        raise NotFound("No such participant.")


def _shows_cpr(principal: Principal) -> bool:
    return principal.role is Role.jobcenter


async def _view(
    uow: UnitOfWork, protection: CprProtection, caller: Caller, row: ParticipantRow
) -> ParticipantView:
    cpr = reveal(uow, protection, caller, row) if _shows_cpr(caller.principal) else None
    return ParticipantView(to_participant(row), cpr)


async def _load_for_change(uow: UnitOfWork, caller: Caller, participant_id: str) -> ParticipantRow:
    row = await ParticipantRepository(uow.session).row(participant_id)
    if row is None:
        raise NotFound("No such participant.")
    _require_person_level_access(caller, row.programme_id)
    return row
