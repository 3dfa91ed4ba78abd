"""The provider's progression measurements, as aggregates per period and indicator group.

Settlement keeps a copy of every measurement (``measurement.recorded``, keyed by its id). The summary
holds no participant id, and a cell from fewer than 3 participants is suppressed, for every role."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from libs.common.auth import Principal
from libs.common.clock import as_utc
from libs.common.contracts import MeasurementRecordedV1
from libs.common.db import Database
from libs.common.errors import NotFound
from libs.common.logging import get_logger
from libs.common.uow import UnitOfWork
from services.settlement.domain.learning import (
    MIN_PARTICIPANTS,
    Cell,
    Measurement,
    PeriodKind,
    progression_summary,
)
from services.settlement.models import MeasurementCopyRow
from services.settlement.repository import MeasurementRepository, TermsRepository
from services.settlement.repository.erasure import ErasureRepository

log = get_logger(__name__)


async def store_measurement(uow: UnitOfWork, event: MeasurementRecordedV1) -> bool:
    """Keep a copy of the measurement unless it is held already (a repeat changes nothing) or its
    participant was erased (the erasure, in the facts consumer, waits for this copy or this for it)."""
    erasure = ErasureRepository(uow.session)
    await erasure.lock(event.participant_id)
    if await erasure.is_erased(event.participant_id):
        return False
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


@dataclass(frozen=True)
class ProgressionSummary:
    programme_id: str
    period: PeriodKind
    min_participants: int
    baseline_periods: dict[str, str | None]  # per group, the period its change is measured from
    cells: list[Cell]


def summary(programme_id: str, rows: Sequence[MeasurementCopyRow], period: PeriodKind) -> ProgressionSummary:
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
    return ProgressionSummary(programme_id, period, MIN_PARTICIPANTS, baselines, cells)
