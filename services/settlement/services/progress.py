"""The provider's progression measurements, as aggregates per period and indicator group.

Settlement keeps a copy of every measurement (``measurement.recorded``, keyed by its id). The summary
holds no participant id, and a cell from fewer than 3 participants is suppressed, for every role."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from libs.common.auth import Principal
from libs.common.clock import as_utc
from libs.common.contracts import MeasurementRecordedV1
from libs.common.contracts.progression import INDICATOR_GROUPS, INDICATORS
from libs.common.db import Database
from libs.common.errors import NotFound
from libs.common.logging import get_logger
from libs.common.reports import Chart
from libs.common.uow import UnitOfWork
from services.settlement.domain.learning import (
    MIN_PARTICIPANTS,
    Measurement,
    PeriodKind,
    progression_summary,
)
from services.settlement.models import MeasurementCopyRow
from services.settlement.repository import MeasurementRepository, TermsRepository
from services.settlement.schemas import ProgressionCellOut, ProgressionSummaryOut

log = get_logger(__name__)


async def store_measurement(uow: UnitOfWork, event: MeasurementRecordedV1) -> bool:
    """Keep a copy of the measurement unless it is held already (a repeat changes nothing)."""
    repo = MeasurementRepository(uow.session)
    if await repo.get(event.measurement_id) is not None:
        return False
    repo.add(
        MeasurementCopyRow(
            measurement_id=event.measurement_id,
            participant_id=event.participant_id,
            programme_id=event.programme_id,
            measured_on=event.measured_on,
            scores=dict(event.scores),
            recorded_at=event.recorded_at,
        )
    )
    await uow.session.flush()
    log.info("measurement_copied", programme_id=event.programme_id)
    return True


async def measurements_of(
    database: Database, principal: Principal, programme_id: str
) -> Sequence[MeasurementCopyRow]:
    """The programme's measurements, which ``summary`` turns into the report."""
    if not principal.can_access(programme_id):
        raise NotFound(f"No programme {programme_id}.")
    async with UnitOfWork(database) as uow:
        rows = await MeasurementRepository(uow.session).of_programme(programme_id)
        if not rows and not await TermsRepository(uow.session).versions(programme_id):
            raise NotFound(f"No programme {programme_id}.")
    return rows


def summary(
    programme_id: str, rows: Sequence[MeasurementCopyRow], period: PeriodKind
) -> ProgressionSummaryOut:
    """Pure work that grows with the measurements: a route may do it beside the event loop."""
    measurements = [
        Measurement(
            row.participant_id,
            row.measured_on,
            row.scores,
            (as_utc(row.recorded_at).isoformat(), row.measurement_id),
        )
        for row in rows
    ]
    cells, baselines = progression_summary(measurements, period)
    return ProgressionSummaryOut(
        programme_id=programme_id,
        period=period,
        min_participants=MIN_PARTICIPANTS,
        baseline_periods=baselines,
        cells=[
            ProgressionCellOut(
                period=c.period,
                group=c.group,
                participants=c.participants,
                suppressed=c.suppressed,
                mean_score=c.mean_score,
                indicator_means=c.indicator_means,
                change_since_first=c.change_since_first,
            )
            for c in cells
        ],
    )


CSV_COLUMNS = (
    "period",
    "group",
    "participants",
    "suppressed",
    "mean_score",
    "change_since_first",
    *INDICATORS,
)


def csv_rows(report: ProgressionSummaryOut) -> list[dict[str, Any]]:
    """One row per period and group; the indicator columns of the other groups stay empty."""
    return [
        {
            "period": c.period,
            "group": c.group,
            "participants": c.participants,
            "suppressed": str(c.suppressed).lower(),
            "mean_score": c.mean_score,
            "change_since_first": c.change_since_first,
        }
        | c.indicator_means
        for c in report.cells
    ]


def chart(report: ProgressionSummaryOut) -> Chart:
    """One line per group over the periods (suppressed cells leave a gap), y = mean score 1-10."""
    periods = sorted({c.period for c in report.cells})
    by_key = {(c.period, c.group): c.mean_score for c in report.cells}
    return Chart(
        title=f"{report.programme_id}: progression measurements, mean score per group",
        x_labels=periods,
        series={group: [by_key.get((p, group)) for p in periods] for group in INDICATOR_GROUPS},
        y_label="mean score (1-10)",
        x_label=report.period,
    )
