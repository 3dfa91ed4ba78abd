"""Programmes in progression: the terms it keeps a copy of, and the data cut-off it owns."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from libs.common.auth import Principal
from libs.common.clock import as_utc, utcnow
from libs.common.contracts import CutoffAdvancedV1, CutoffRetractedV1, ProgrammeTermsPublishedV1
from libs.common.db import Database
from libs.common.errors import Conflict, NotFound
from libs.common.events import new_event
from libs.common.logging import get_logger
from libs.common.uow import UnitOfWork
from services.progression.domain import effective_categories, is_newer_terms
from services.progression.models import CutoffRow, ProgrammeRow
from services.progression.repository import ProgrammeRepository

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


@dataclass(frozen=True)
class Programme:
    """What progression knows of a programme."""

    programme_id: str
    name: str
    terms_version: int
    status_categories: dict[str, str]  # status code -> category, as the current terms map them
    data_complete_through: date | None


async def get_programme(database: Database, programme_id: str) -> Programme:
    async with UnitOfWork(database) as uow:
        row = await ProgrammeRepository(uow.session).get(programme_id)
        if row is None:
            raise NotFound(f"No programme {programme_id}.")
        return Programme(
            row.programme_id,
            row.name,
            row.terms_version,
            dict(row.status_categories),
            row.data_complete_through,
        )


@dataclass(frozen=True)
class CutoffResult:
    programme_id: str
    complete_through: date
    previous: date | None
    recorded_at: datetime
    kind: str
    reason: str | None
    seq: int


def _result(row: CutoffRow, previous: date | None) -> CutoffResult:
    return CutoffResult(
        row.programme_id,
        row.complete_through,
        previous,
        as_utc(row.recorded_at),
        row.kind,
        row.reason,
        row.seq,
    )


async def _programme_for_cutoff(
    repo: ProgrammeRepository, principal: Principal, programme_id: str
) -> ProgrammeRow:
    if not principal.can_access(programme_id):
        raise NotFound(f"No programme {programme_id}.")
    programme = await repo.get(programme_id, for_update=True)
    if programme is None:
        raise NotFound(f"No programme {programme_id}.")
    return programme


async def advance_cutoff(
    database: Database, principal: Principal, programme_id: str, complete_through: date
) -> CutoffResult:
    """Declare every benefit period up to ``complete_through`` reported. It only moves forward (409
    otherwise: a mistaken move is taken back by a retraction); the same date again is a retry and
    changes nothing."""
    async with UnitOfWork(database) as uow:
        repo = ProgrammeRepository(uow.session)
        programme = await _programme_for_cutoff(repo, principal, programme_id)
        current = programme.data_complete_through
        history = await repo.cutoffs(programme_id)
        if current is not None and complete_through == current:
            return _result(history[-1], history[-2].complete_through if len(history) > 1 else None)
        if current is not None and complete_through < current:
            raise Conflict(
                f"The data cut-off only moves forward; it is {current.isoformat()}. "
                "A mistaken move is taken back by a retraction.",
                complete_through=current.isoformat(),
            )
        row = await _record(
            uow,
            repo,
            programme,
            (history[-1].seq if history else 0) + 1,
            complete_through,
            "advanced",
            None,
            principal,
        )
        uow.emit(
            new_event(
                CutoffAdvancedV1(
                    programme_id=programme_id,
                    complete_through=complete_through,
                    previous=current,
                    recorded_at=row.recorded_at,
                ),
                subject=f"programme/{programme_id}",
            )
        )
        await uow.commit()
    log.info("cutoff_advanced", programme_id=programme_id, complete_through=complete_through.isoformat())
    return _result(row, current)


async def retract_cutoff(
    database: Database, principal: Principal, programme_id: str, complete_through: date, reason: str
) -> tuple[CutoffResult, bool]:
    """Take a mistaken move of the cut-off back to the earlier ``complete_through``: a new fact with its
    reason, kept in the history beside the mistake (a read as of a moment before it still sees the
    mistaken cut-off). The same retraction again is a retry: it returns the fact already recorded and
    False (nothing new)."""
    async with UnitOfWork(database) as uow:
        repo = ProgrammeRepository(uow.session)
        programme = await _programme_for_cutoff(repo, principal, programme_id)
        current = programme.data_complete_through
        history = await repo.cutoffs(programme_id)
        last = history[-1] if history else None
        if (
            last is not None
            and last.kind == "retracted"
            and last.complete_through == complete_through
            and last.reason == reason
        ):
            return _result(last, history[-2].complete_through if len(history) > 1 else None), False
        if current is None or complete_through >= current:
            raise Conflict(
                "A retraction takes the data cut-off back to an earlier date; "
                + (f"it is {current.isoformat()}." if current else "the programme has no cut-off yet."),
                complete_through=current.isoformat() if current else None,
            )
        row = await _record(
            uow,
            repo,
            programme,
            (history[-1].seq if history else 0) + 1,
            complete_through,
            "retracted",
            reason,
            principal,
        )
        uow.emit(
            new_event(
                CutoffRetractedV1(
                    programme_id=programme_id,
                    complete_through=complete_through,
                    previous=current,
                    reason=reason,
                    recorded_at=row.recorded_at,
                ),
                subject=f"programme/{programme_id}",
            )
        )
        await uow.commit()
    log.info(
        "cutoff_retracted",
        programme_id=programme_id,
        complete_through=complete_through.isoformat(),
        previous=current.isoformat(),
    )
    return _result(row, current), True


async def _record(
    uow: UnitOfWork,
    repo: ProgrammeRepository,
    programme: ProgrammeRow,
    seq: int,
    complete_through: date,
    kind: str,
    reason: str | None,
    principal: Principal,
) -> CutoffRow:
    """The move as the programme's fact number ``seq`` (the caller read the history under the
    programme's lock)."""
    now = utcnow()
    programme.data_complete_through = complete_through
    programme.updated_at = now
    row = CutoffRow(
        programme_id=programme.programme_id,
        seq=seq,
        complete_through=complete_through,
        kind=kind,
        reason=reason,
        recorded_by=principal.subject,
        recorded_at=now,
    )
    repo.add(row)
    await uow.session.flush()
    return row


async def cutoff_history(database: Database, principal: Principal, programme_id: str) -> list[CutoffResult]:
    """Every move of the cut-off, advances and retractions, in recording order."""
    if not principal.can_access(programme_id):
        raise NotFound(f"No programme {programme_id}.")
    async with UnitOfWork(database) as uow:
        repo = ProgrammeRepository(uow.session)
        if await repo.get(programme_id) is None:
            raise NotFound(f"No programme {programme_id}.")
        history = await repo.cutoffs(programme_id)
    results: list[CutoffResult] = []
    previous: date | None = None
    for row in history:
        results.append(_result(row, previous))
        previous = row.complete_through
    return results
