"""The erasure job: every participant ordered erased or past retention, each erased in a transaction of
its own and announced with participant.erased.v1."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from libs.common.app import Runtime
from libs.common.clock import utcnow
from libs.common.contracts import ParticipantErasedV1
from libs.common.dates import today_in_denmark
from libs.common.db import Database
from libs.common.events import new_event
from libs.common.ids import uuid7_str
from libs.common.logging import get_correlation_id, get_logger
from libs.common.uow import UnitOfWork
from services.intake.domain import (
    Erasure,
    ErasureBasis,
    RuleViolation,
    may_be_ordered_erased,
    retention_passed,
)
from services.intake.models import CprAuditRow, ErasureRow
from services.intake.repository import (
    AuditRepository,
    ErasureRepository,
    ProgrammeRepository,
    to_erasure,
    to_participant,
)
from services.intake.services.erasure.orders import programme_of
from services.intake.services.protection import Caller
from services.intake.settings import IntakeSettings

log = get_logger(__name__)

# Who the scheduled job is in the CPR audit (no token: it runs inside the service).
JOB_ACTOR = "intake-erasure-job"


@dataclass(frozen=True)
class ErasureRun:
    """What one run of the job did: the erasures it carried out; the participants it left for a later
    run because some of their events are not published yet (``waiting``), or because they were enrolled
    after the order and their window has not ended (``held``)."""

    erased: list[Erasure]
    waiting: list[str]
    held: list[str]


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
        programme = await programme_of(uow, row.programme_id)
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
