"""Erasure orders: the jobcenter orders a participant erased; the orders and done erasures listed."""

from __future__ import annotations

import base64
import binascii
import uuid
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.exc import IntegrityError

from libs.common.auth import Role
from libs.common.clock import utcnow
from libs.common.dates import today_in_denmark
from libs.common.db import Database
from libs.common.errors import Conflict, Forbidden, NotFound, ValidationFailed
from libs.common.ids import uuid7_str
from libs.common.logging import get_logger
from libs.common.uow import UnitOfWork
from services.intake.domain import (
    Erasure,
    ErasureBasis,
    ErasureReason,
    ErasureState,
    Programme,
    RuleViolation,
    may_be_ordered_erased,
)
from services.intake.models import ErasureRow
from services.intake.repository import (
    ErasureRepository,
    ParticipantRepository,
    ProgrammeRepository,
    to_erasure,
    to_participant,
)
from services.intake.services.protection import Caller, CprProtection

log = get_logger(__name__)


@dataclass(frozen=True)
class OrderAnswer:
    erasure: Erasure
    created: bool  # False: the same order again (a retry)


@dataclass(frozen=True)
class ErasurePage:
    items: list[Erasure]
    next_cursor: str | None


async def order_erasure(
    database: Database,
    protection: CprProtection,
    caller: Caller,
    participant_id: str,
    reason_code: ErasureReason,
    reason: str,
    now: datetime | None = None,
) -> OrderAnswer:
    """The jobcenter orders a participant erased (the job carries it out). Only once the window has
    ended or for a citizen never enrolled; the same order again answers the first, another is a 409."""
    now = now or utcnow()
    fingerprints = protection.fingerprints({"reason_code": reason_code.value, "reason": reason})
    try:
        answer = await _order(database, caller, participant_id, reason_code, reason, fingerprints, now)
    except IntegrityError:
        # Another order of the same participant committed first: answer as if it had come before.
        answer = await _order(database, caller, participant_id, reason_code, reason, fingerprints, now)
    if answer.created:
        log.info("erasure_ordered", erasure_id=answer.erasure.erasure_id, participant_id=participant_id)
    return answer


async def _order(
    database: Database,
    caller: Caller,
    participant_id: str,
    reason_code: ErasureReason,
    reason: str,
    fingerprints: list[str],
    now: datetime,
) -> OrderAnswer:
    principal = caller.principal
    async with UnitOfWork(database) as uow:
        erasures = ErasureRepository(uow.session)
        existing = await erasures.of_participant(participant_id, for_update=True)
        if existing is not None:
            if not principal.can_access(existing.programme_id):
                raise NotFound("No such participant.")
            if existing.basis == ErasureBasis.order and existing.order_fingerprint in fingerprints:
                return OrderAnswer(to_erasure(existing), created=False)
            raise Conflict(_already(to_erasure(existing)), erasure_id=existing.erasure_id)
        row = await ParticipantRepository(uow.session).row(participant_id)
        if row is None or not principal.can_access(row.programme_id):
            raise NotFound("No such participant.")
        programme = await programme_of(uow, row.programme_id)
        try:
            may_be_ordered_erased(to_participant(row), programme.versions, today_in_denmark(now))
        except RuleViolation as exc:
            raise Conflict(exc.message) from exc
        order = ErasureRow(
            erasure_id=uuid7_str(),
            participant_id=participant_id,
            programme_id=row.programme_id,
            basis=ErasureBasis.order.value,
            reason_code=reason_code.value,
            reason=reason,
            order_fingerprint=fingerprints[0],
            ordered_by=principal.subject,
            ordered_at=now,
        )
        erasures.add(order)
        await erasures.flush()
        erasure = to_erasure(order)
        await uow.commit()
    return OrderAnswer(erasure, created=True)


def _already(erasure: Erasure) -> str:
    if erasure.state is ErasureState.erased:
        return (
            f"The participant's personal data was erased ({erasure.basis.value}); nothing is left to order."
        )
    return "Another erasure of this participant has been ordered; it stands as it was ordered."


async def programme_of(uow: UnitOfWork, programme_id: str) -> Programme:
    programme = await ProgrammeRepository(uow.session).get(programme_id)
    assert programme is not None  # a participant's programme always exists (foreign key)
    return programme


def _decode_cursor(cursor: str | None) -> str | None:
    if cursor is None:
        return None
    try:
        return str(uuid.UUID(base64.urlsafe_b64decode(cursor.encode() + b"==").decode()))
    except (ValueError, binascii.Error, UnicodeDecodeError):
        raise ValidationFailed.for_field("cursor", "not a cursor this API returned") from None


async def list_erasures(
    database: Database,
    caller: Caller,
    programme_id: str | None,
    state: ErasureState | None,
    cursor: str | None,
    limit: int,
) -> ErasurePage:
    """Orders and done erasures in the caller's programmes (every programme for the admin)."""
    principal = caller.principal
    if principal.role not in (Role.jobcenter, Role.auditor, Role.admin):
        raise Forbidden("Erasures are for the jobcenter, the auditor and the admin.")
    after = _decode_cursor(cursor)
    scope: list[str] | None
    if programme_id is not None:
        if not principal.can_access(programme_id):
            return ErasurePage([], None)
        scope = [programme_id]
    elif principal.role is Role.admin or "*" in principal.programmes:
        scope = None
    else:
        scope = sorted(principal.programmes)
    erased = None if state is None else state is ErasureState.erased
    async with UnitOfWork(database, read_only=True) as uow:
        rows = await ErasureRepository(uow.session).page(scope, erased, after, limit + 1)
        items = [to_erasure(row) for row in rows[:limit]]
    next_cursor = (
        base64.urlsafe_b64encode(rows[limit - 1].erasure_id.encode()).decode().rstrip("=")
        if len(rows) > limit
        else None
    )
    return ErasurePage(items, next_cursor)
