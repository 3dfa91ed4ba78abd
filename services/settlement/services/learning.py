"""Learning track: the municipality's yearly spending on sickness benefit and job clarification
against 80 % of its Covid-period level. Entered by the jobcenter or an admin; corrections keep the
replaced values."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from sqlalchemy.exc import IntegrityError

from libs.common.auth import Principal
from libs.common.clock import as_utc, utcnow
from libs.common.db import Database
from libs.common.errors import Conflict, NotFound, ValidationFailed
from libs.common.logging import get_logger
from libs.common.reports import Chart
from libs.common.uow import UnitOfWork
from services.settlement.domain.learning import (
    COVID_YEARS,
    MILLION,
    RATIO_PLACES,
    TARGET_SHARE,
    LearningTrack,
    covid_level,
    learning_track,
    plausibility_problem,
)
from services.settlement.models import MunicipalSpendingRow
from services.settlement.repository import SpendingRepository, TermsRepository
from services.settlement.schemas import (
    LearningKpiOut,
    LearningTrackOut,
    LearningYearOut,
    MunicipalSpendingOut,
    SpendingHistoryEntry,
)

log = get_logger(__name__)
ORE = Decimal("0.01")


@dataclass(frozen=True)
class Stored:
    spending: MunicipalSpendingOut
    created: bool


def spending_out(row: MunicipalSpendingRow) -> MunicipalSpendingOut:
    return MunicipalSpendingOut(
        programme_id=row.programme_id,
        year=row.year,
        spending_dkk=Decimal(row.spending_dkk).quantize(ORE),
        note=row.note,
        recorded_at=as_utc(row.recorded_at),
        recorded_by=row.recorded_by,
        history=[SpendingHistoryEntry.model_validate(entry) for entry in row.history],
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
                    return Stored(spending_out(existing), created=False)
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
            out = spending_out(row)
    except IntegrityError:  # the same year posted concurrently: answer as if it came second
        async with UnitOfWork(database) as uow:
            again = await SpendingRepository(uow.session).get(programme_id, year)
        if again is None:
            raise
        if Decimal(again.spending_dkk) != amount:
            raise _conflict(year, Decimal(again.spending_dkk)) from None
        return Stored(spending_out(again), created=False)
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
            return Stored(spending_out(row), created=True)
        if Decimal(existing.spending_dkk) == amount and existing.note == note:
            return Stored(spending_out(existing), created=False)
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
        out = spending_out(existing)
    log.info("municipal_spending_corrected", programme_id=programme_id, year=year)
    return Stored(out, created=False)


async def list_spending(
    database: Database, principal: Principal, programme_id: str
) -> list[MunicipalSpendingOut]:
    async with UnitOfWork(database) as uow:
        await _require_programme(uow, principal, programme_id)
        rows = await SpendingRepository(uow.session).of_programme(programme_id)
        return [spending_out(row) for row in rows]


async def spending_of(database: Database, principal: Principal, programme_id: str) -> dict[int, Decimal]:
    async with UnitOfWork(database) as uow:
        await _require_programme(uow, principal, programme_id)
        rows = await SpendingRepository(uow.session).of_programme(programme_id)
        return {row.year: Decimal(row.spending_dkk).quantize(ORE) for row in rows}


def track_out(programme_id: str, track: LearningTrack) -> LearningTrackOut:
    return LearningTrackOut(
        programme_id=programme_id,
        years=[LearningYearOut(year=p.year, spending_dkk=p.spending_dkk, index=p.index) for p in track.years],
        covid_level_dkk=track.covid_level_dkk,
        target_share=TARGET_SHARE,
        target_dkk=track.target_dkk,
        kpi=None
        if track.kpi is None
        else LearningKpiOut(
            latest_year=track.kpi.latest_year,
            latest_spending_dkk=track.kpi.latest_spending_dkk,
            ratio_to_covid_level=track.kpi.ratio_to_covid_level,
            target_met=track.kpi.target_met,
            gap_dkk=track.kpi.gap_dkk,
        ),
    )


async def learning_report(database: Database, principal: Principal, programme_id: str) -> LearningTrackOut:
    return track_out(programme_id, learning_track(await spending_of(database, principal, programme_id)))


CSV_COLUMNS = (
    "year",
    "spending_dkk",
    "index",
    "covid_level_dkk",
    "target_dkk",
    "ratio_to_covid_level",
    "at_or_below_target",
)


def csv_rows(report: LearningTrackOut) -> list[dict[str, Any]]:
    """One row per year; the ratio and the target check of every year against the Covid level."""
    level = covid_level({p.year: p.spending_dkk for p in report.years})
    rows = []
    for point in report.years:
        rows.append(
            {
                "year": point.year,
                "spending_dkk": point.spending_dkk,
                "index": point.index,
                "covid_level_dkk": report.covid_level_dkk,
                "target_dkk": report.target_dkk,
                "ratio_to_covid_level": None
                if level is None
                else (point.spending_dkk / level).quantize(RATIO_PLACES, rounding=ROUND_HALF_UP),
                "at_or_below_target": None
                if level is None
                else str(point.spending_dkk <= level * TARGET_SHARE).lower(),
            }
        )
    return rows


def chart(report: LearningTrackOut) -> Chart:
    """Bars per year (MDKK), dashed lines at the Covid-period level and at its 80 % target."""
    references: dict[str, float | Decimal] = {}
    if report.covid_level_dkk is not None and report.target_dkk is not None:
        references[f"Covid-period level (mean {COVID_YEARS[0]}-{COVID_YEARS[1]})"] = (
            report.covid_level_dkk / MILLION
        )
        references[f"Target: {int(TARGET_SHARE * 100)} % of the Covid level"] = report.target_dkk / MILLION
    return Chart(
        title=f"{report.programme_id}: spending on sickness benefit and job clarification",
        x_labels=[str(p.year) for p in report.years],
        bars={"Spending (MDKK)": [p.spending_dkk / MILLION for p in report.years]},
        reference_lines=references,
        y_label="MDKK",
        x_label="year",
    )
