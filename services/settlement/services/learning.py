"""Learning track: the municipality's yearly spending on sickness benefit and job clarification
against 80 % of its Covid-period level. Entered by the jobcenter or an admin; corrections keep the
replaced values."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy.exc import IntegrityError

from libs.common.auth import Principal
from libs.common.clock import as_utc, utcnow
from libs.common.db import Database
from libs.common.errors import Conflict, NotFound, ValidationFailed
from libs.common.logging import get_logger
from libs.common.uow import UnitOfWork
from services.settlement.domain.learning import LearningTrack, learning_track, plausibility_problem
from services.settlement.models import MunicipalSpendingRow
from services.settlement.repository import SpendingRepository, TermsRepository

log = get_logger(__name__)
ORE = Decimal("0.01")


@dataclass(frozen=True)
class SpendingChange:
    """A value a correction replaced."""

    spending_dkk: Decimal
    note: str | None
    recorded_at: datetime
    recorded_by: str
    replaced_at: datetime
    replaced_by: str


@dataclass(frozen=True)
class SpendingView:
    programme_id: str
    year: int
    spending_dkk: Decimal
    note: str | None
    recorded_at: datetime
    recorded_by: str
    history: list[SpendingChange]  # oldest first


@dataclass(frozen=True)
class Stored:
    spending: SpendingView
    created: bool


@dataclass(frozen=True)
class LearningReport:
    programme_id: str
    track: LearningTrack


def spending_view(row: MunicipalSpendingRow) -> SpendingView:
    return SpendingView(
        programme_id=row.programme_id,
        year=row.year,
        spending_dkk=Decimal(row.spending_dkk).quantize(ORE),
        note=row.note,
        recorded_at=as_utc(row.recorded_at),
        recorded_by=row.recorded_by,
        history=[
            SpendingChange(
                spending_dkk=Decimal(entry["spending_dkk"]),
                note=entry["note"],
                recorded_at=datetime.fromisoformat(entry["recorded_at"]),
                recorded_by=entry["recorded_by"],
                replaced_at=datetime.fromisoformat(entry["replaced_at"]),
                replaced_by=entry["replaced_by"],
            )
            for entry in row.history
        ],
    )


async def _require_programme(uow: UnitOfWork, principal: Principal, programme_id: str) -> None:
    if not principal.can_access(programme_id) or not await TermsRepository(uow.session).versions(
        programme_id
    ):
        raise NotFound(f"No programme {programme_id}.")


def _check_plausible(amount: Decimal, others: dict[int, Decimal]) -> None:
    problem = plausibility_problem(amount, others)
    if problem is not None:
        raise ValidationFailed.for_field("spending_dkk", problem)


def _conflict(year: int, stored: Decimal) -> Conflict:
    message = (
        f"{year} is stored with another amount ({stored} DKK); "
        f"correct it with PUT .../municipal-spending/{year}"
    )
    return Conflict(f"year: {message}", errors=[{"field": "year", "message": message}], year=year)


async def record_spending(
    database: Database, principal: Principal, programme_id: str, year: int, amount: Decimal, note: str | None
) -> Stored:
    """Store a year's spending. The same amount again returns what is stored; another amount for a
    stored year is a conflict (corrections go through :func:`correct_spending`)."""
    try:
        async with UnitOfWork(database) as uow:
            await _require_programme(uow, principal, programme_id)
            repo = SpendingRepository(uow.session)
            existing = await repo.get(programme_id, year)
            if existing is not None:
                if Decimal(existing.spending_dkk) == amount:
                    return Stored(spending_view(existing), created=False)
                raise _conflict(year, Decimal(existing.spending_dkk))
            others = {r.year: Decimal(r.spending_dkk) for r in await repo.of_programme(programme_id)}
            _check_plausible(amount, others)
            row = MunicipalSpendingRow(
                programme_id=programme_id,
                year=year,
                spending_dkk=amount.quantize(ORE),
                note=note,
                history=[],
                recorded_at=utcnow(),
                recorded_by=principal.subject,
            )
            repo.add(row)
            await uow.commit()
            out = spending_view(row)
    except IntegrityError:  # the same year posted concurrently: answer as if it came second
        async with UnitOfWork(database) as uow:
            again = await SpendingRepository(uow.session).get(programme_id, year)
        if again is None:
            raise
        if Decimal(again.spending_dkk) != amount:
            raise _conflict(year, Decimal(again.spending_dkk)) from None
        return Stored(spending_view(again), created=False)
    log.info("municipal_spending_recorded", programme_id=programme_id, year=year)
    return Stored(out, created=True)


async def correct_spending(
    database: Database, principal: Principal, programme_id: str, year: int, amount: Decimal, note: str | None
) -> Stored:
    """Replace a year's spending (or store it, if absent); the replaced value goes to the history."""
    async with UnitOfWork(database) as uow:
        await _require_programme(uow, principal, programme_id)
        repo = SpendingRepository(uow.session)
        existing = await uow.session.get(MunicipalSpendingRow, (programme_id, year), with_for_update=True)
        others = {
            r.year: Decimal(r.spending_dkk) for r in await repo.of_programme(programme_id) if r.year != year
        }
        _check_plausible(amount, others)
        now = utcnow()
        if existing is None:
            row = MunicipalSpendingRow(
                programme_id=programme_id,
                year=year,
                spending_dkk=amount.quantize(ORE),
                note=note,
                history=[],
                recorded_at=now,
                recorded_by=principal.subject,
            )
            repo.add(row)
            await uow.commit()
            log.info("municipal_spending_recorded", programme_id=programme_id, year=year)
            return Stored(spending_view(row), created=True)
        if Decimal(existing.spending_dkk) == amount and existing.note == note:
            return Stored(spending_view(existing), created=False)
        previous: dict[str, Any] = {
            "spending_dkk": str(Decimal(existing.spending_dkk).quantize(ORE)),
            "note": existing.note,
            "recorded_at": as_utc(existing.recorded_at).isoformat(),
            "recorded_by": existing.recorded_by,
            "replaced_at": now.isoformat(),
            "replaced_by": principal.subject,
        }
        existing.history = [*existing.history, previous]  # a new list, so the JSON column is written
        existing.spending_dkk = amount.quantize(ORE)
        existing.note = note
        existing.recorded_at = now
        existing.recorded_by = principal.subject
        await uow.commit()
        out = spending_view(existing)
    log.info("municipal_spending_corrected", programme_id=programme_id, year=year)
    return Stored(out, created=False)


async def list_spending(database: Database, principal: Principal, programme_id: str) -> list[SpendingView]:
    async with UnitOfWork(database) as uow:
        await _require_programme(uow, principal, programme_id)
        rows = await SpendingRepository(uow.session).of_programme(programme_id)
        return [spending_view(row) for row in rows]


async def spending_of(database: Database, principal: Principal, programme_id: str) -> dict[int, Decimal]:
    async with UnitOfWork(database) as uow:
        await _require_programme(uow, principal, programme_id)
        rows = await SpendingRepository(uow.session).of_programme(programme_id)
        return {row.year: Decimal(row.spending_dkk).quantize(ORE) for row in rows}


async def learning_report(database: Database, principal: Principal, programme_id: str) -> LearningReport:
    return LearningReport(programme_id, learning_track(await spending_of(database, principal, programme_id)))
