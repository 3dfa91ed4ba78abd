"""Erasure (GDPR art. 5(1)(e), 17): the jobcenter's orders, and the job that erases every participant
whose retention has passed or whose erasure was ordered, announcing each with participant.erased.v1.

What one erasure removes, in one transaction: the participant row (CPR ciphertext, pseudonym, dates,
coach), its idempotency rows, the outbox rows whose events name it (already published: the stream's
copies are the stream eraser's), and the participant id in the CPR audit (nulled; the rows stay). What
stays: the erasure record (the participant id, programme, basis, reason code, who ordered it, when), and
the seat the citizen took (capacity counts who was enrolled).
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import uuid
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy.exc import IntegrityError

from libs.common.app import Runtime
from libs.common.auth import Role
from libs.common.clock import utcnow
from libs.common.contracts import ParticipantErasedV1
from libs.common.dates import today_in_denmark
from libs.common.db import Database
from libs.common.errors import Conflict, Forbidden, NotFound, ValidationFailed
from libs.common.events import new_event
from libs.common.ids import uuid7_str
from libs.common.logging import get_correlation_id, get_logger
from libs.common.uow import UnitOfWork
from services.intake.domain import (
    Erasure,
    ErasureBasis,
    ErasureReason,
    ErasureState,
    Programme,
    RuleViolation,
    may_be_ordered_erased,
    retention_passed,
)
from services.intake.models import CprAuditRow, ErasureRow
from services.intake.repository import (
    AuditRepository,
    ErasureRepository,
    ParticipantRepository,
    ProgrammeRepository,
    to_erasure,
    to_participant,
)
from services.intake.services.protection import Caller, CprProtection
from services.intake.settings import IntakeSettings

log = get_logger(__name__)

# Who the scheduled job is in the CPR audit (no token: it runs inside the service).
JOB_ACTOR = "intake-erasure-job"


@dataclass(frozen=True)
class OrderAnswer:
    erasure: Erasure
    created: bool  # False: the same order again (a retry)


@dataclass(frozen=True)
class ErasurePage:
    items: list[Erasure]
    next_cursor: str | None


@dataclass(frozen=True)
class ErasureRun:
    """What one run of the job did: the erasures it carried out; the participants it left for a later
    run because some of their events are not published yet (``waiting``), or because they were enrolled
    after the order and their window has not ended (``held``)."""

    erased: list[Erasure]
    waiting: list[str]
    held: list[str]


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
        programme = await _programme(uow, row.programme_id)
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


async def _programme(uow: UnitOfWork, programme_id: str) -> Programme:
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
    if principal.role not in (Role.jobcenter, Role.admin):
        raise Forbidden("Erasures are for the jobcenter and the admin.")
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


async def run_erasures(
    database: Database, caller: Caller | None = None, now: datetime | None = None
) -> ErasureRun:
    """Erase every participant whose erasure was ordered or whose retention has passed as of today
    (Danish time), each in a transaction of its own; ``caller`` None is the scheduled job. Safe to run
    on two replicas at once and to run again: a participant erased meanwhile is skipped."""
    now = now or utcnow()
    today = today_in_denmark(now)
    async with UnitOfWork(database, read_only=True) as uow:
        erasures = ErasureRepository(uow.session)
        ordered = [to_erasure(row) for row in await erasures.ordered()]
        # retention_years is at least 1: nobody referred within the last year can be due.
        candidates = await erasures.referred_on_or_before(today - timedelta(days=365))
        programmes = {p.programme_id: p for p in await ProgrammeRepository(uow.session).list()}
    due: dict[str, ErasureBasis] = {e.participant_id: ErasureBasis.order for e in ordered}
    for participant in candidates:
        if participant.participant_id not in due and retention_passed(
            participant, programmes[participant.programme_id].versions, today
        ):
            due[participant.participant_id] = ErasureBasis.retention
    run = ErasureRun([], [], [])
    for participant_id, basis in due.items():
        outcome = await _erase(database, participant_id, basis, caller, now, today)
        if isinstance(outcome, Erasure):
            run.erased.append(outcome)
        elif outcome == "waiting":
            run.waiting.append(participant_id)
        elif outcome == "held":
            run.held.append(participant_id)
    if run.erased or run.waiting or run.held:
        log.info("erasures_run", erased=len(run.erased), waiting=len(run.waiting), held=len(run.held))
    return run


async def _erase(
    database: Database,
    participant_id: str,
    basis: ErasureBasis,
    caller: Caller | None,
    now: datetime,
    today: date,
) -> Erasure | str:
    """Erase one participant; "waiting" when their events are not all published, "held" when an
    ordered participant is in a running window again, "gone" when another run got there first or they
    are no longer due."""
    async with UnitOfWork(database) as uow:
        erasures = ErasureRepository(uow.session)
        row = await erasures.locked_participant(participant_id)
        record = await erasures.of_participant(participant_id, for_update=True)
        if row is None or (record is not None and record.erased_at is not None):
            return "gone"
        programme = await _programme(uow, row.programme_id)
        participant = to_participant(row)
        if basis is ErasureBasis.retention:
            if record is not None or not retention_passed(participant, programme.versions, today):
                return "gone"  # changed since the candidates were read (enrolled, ordered)
        else:
            try:  # enrolled since the order, into a window still running: the order waits for its end
                may_be_ordered_erased(participant, programme.versions, today)
            except RuleViolation:
                log.warning("erasure_order_held", erasure_id=record.erasure_id if record else None)
                return "held"
        if await erasures.events_unpublished(participant_id):
            return "waiting"  # erasing now would drop an event its consumers must still receive
        counts = await erasures.erase_rows(participant_id)
        # READ AUDIT (issue 28, part A): null this participant in the read audit here, in this
        # transaction: `await redact_participant(uow.session, participant_id)`.
        if record is None:
            record = ErasureRow(
                erasure_id=uuid7_str(),
                participant_id=participant_id,
                programme_id=row.programme_id,
                basis=basis.value,
            )
            erasures.add(record)
        record.reason = None  # the jobcenter's words may describe the person
        record.erased_at = now
        await erasures.flush()
        erasure = to_erasure(record)
        AuditRepository(uow.session).add(_audit_row(caller, erasure, now))
        uow.emit(
            new_event(
                ParticipantErasedV1(participant_id=participant_id), subject=f"participant/{participant_id}"
            )
        )
        await uow.commit()
    log.info(
        "participant_erased",
        erasure_id=erasure.erasure_id,
        participant_id=participant_id,
        basis=basis.value,
        **{f"{table}_rows": count for table, count in counts.items()},
    )
    return erasure


def _audit_row(caller: Caller | None, erasure: Erasure, now: datetime) -> CprAuditRow:
    """The erasure in the CPR audit: who ran it and which erasure record, not the participant (the
    record names it) and nothing that was erased."""
    return CprAuditRow(
        at=now,
        actor=caller.principal.subject if caller else JOB_ACTOR,
        role=caller.principal.role.value if caller else "system",
        action="erase",
        endpoint=caller.endpoint if caller else "job erasures",
        participant_id=None,
        correlation_id=get_correlation_id(),
        detail=f"erasure={erasure.erasure_id} basis={erasure.basis.value}",
    )


def erasure_job() -> Callable[[Runtime], Coroutine[Any, Any, None]]:
    """The scheduled erasure: a run every ``ERASURE_INTERVAL_SECONDS`` (0: never) until the service
    stops."""

    async def erasures(runtime: Runtime) -> None:
        settings = runtime.settings
        assert isinstance(settings, IntakeSettings)
        interval = settings.erasure_interval_seconds
        if interval <= 0:
            return
        while not runtime.stopping.is_set():
            try:
                await run_erasures(runtime.database)
            except Exception as exc:  # the database briefly away: try again on the next round
                log.warning("erasure_run_failed", error=type(exc).__name__)
            try:
                await asyncio.wait_for(runtime.stopping.wait(), timeout=interval)
            except TimeoutError:
                pass

    return erasures
