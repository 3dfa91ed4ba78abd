"""Learning track (municipal spending against 80 % of the Covid-period level) and the provider's
progression summary: JSON, CSV (``?format=csv`` or ``Accept: text/csv``) and charts (PNG, SVG)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Path, Query, Request, Response, status

from libs.common.auth import Principal, Role, require_roles
from libs.common.db import Database
from libs.common.deps import DatabaseDep, WorkersDep
from libs.common.offload import WorkerPool
from libs.common.reports import (
    Chart,
    ChartFormat,
    chart_response,
    csv_response,
    json_response,
    to_csv,
    wants_csv,
)
from services.settlement.api import learning_documents as documents
from services.settlement.domain.learning import PeriodKind
from services.settlement.models import MeasurementCopyRow
from services.settlement.schemas import (
    LearningTrackOut,
    MunicipalSpendingCorrection,
    MunicipalSpendingIn,
    MunicipalSpendingList,
    MunicipalSpendingOut,
    ProgressionSummaryOut,
)
from services.settlement.services import learning, progress

router = APIRouter(prefix="/v1")

Recorder = Annotated[Principal, Depends(require_roles(Role.jobcenter, Role.admin))]
Reader = Annotated[
    Principal, Depends(require_roles(Role.jobcenter, Role.provider, Role.investor, Role.admin, Role.auditor))
]
FormatQuery = Annotated[str | None, Query(alias="format", description="json (default) or csv")]
PeriodQuery = Annotated[Literal["quarter", "month"], Query(description="quarter (default) or month")]
CSV: dict[int | str, dict[str, Any]] = {200: {"content": {"text/csv": {}}}}
PNG: dict[int | str, dict[str, Any]] = {200: {"content": {"image/png": {}}}}
SVG: dict[int | str, dict[str, Any]] = {200: {"content": {"image/svg+xml": {}}}}


# --- learning track -------------------------------------------------------------------------------


@router.post(
    "/programmes/{programme_id}/municipal-spending",
    status_code=status.HTTP_201_CREATED,
    response_model=MunicipalSpendingOut,
    tags=["learning track"],
    summary="Record a year's municipal spending on sickness benefit and job clarification (DKK); "
    "the same amount again returns it (200)",
    responses={
        409: {"description": "The year is stored with another amount: correct it with PUT"},
        422: {
            "description": "Implausible amount (not > 0, not < 100 bn DKK, or off the median of the other years by more than 3x)"
        },
    },
)
async def post_spending(
    programme_id: str, body: MunicipalSpendingIn, principal: Recorder, db: DatabaseDep, response: Response
) -> MunicipalSpendingOut:
    stored = await learning.record_spending(
        db, principal, programme_id, body.year, body.spending_dkk, body.note
    )
    if not stored.created:
        response.status_code = status.HTTP_200_OK
    return documents.spending_out(stored.spending)


@router.put(
    "/programmes/{programme_id}/municipal-spending/{year}",
    response_model=MunicipalSpendingOut,
    tags=["learning track"],
    summary="Correct a year's spending: replaces it and keeps the previous value in the history "
    "(201 when the year was not stored)",
    responses={201: {"description": "The year was not stored: created"}},
)
async def put_spending(
    programme_id: str,
    year: Annotated[int, Path(ge=2015, le=2100)],
    body: MunicipalSpendingCorrection,
    principal: Recorder,
    db: DatabaseDep,
    response: Response,
) -> MunicipalSpendingOut:
    stored = await learning.correct_spending(db, principal, programme_id, year, body.spending_dkk, body.note)
    if stored.created:
        response.status_code = status.HTTP_201_CREATED
    return documents.spending_out(stored.spending)


@router.get(
    "/programmes/{programme_id}/municipal-spending",
    response_model=MunicipalSpendingList,
    tags=["learning track"],
    summary="The stored years with who recorded them and the history of corrections",
)
async def list_spending(programme_id: str, principal: Reader, db: DatabaseDep) -> MunicipalSpendingList:
    views = await learning.list_spending(db, principal, programme_id)
    return MunicipalSpendingList(programme_id=programme_id, items=[documents.spending_out(v) for v in views])


@router.get(
    "/programmes/{programme_id}/learning-track",
    response_model=LearningTrackOut,
    tags=["learning track"],
    summary="Spending per year with an index (first year = 100), the Covid-period level, the 80 % "
    "target and the latest year's KPI; CSV with ?format=csv or Accept: text/csv",
    responses=CSV,
)
async def get_learning_track(
    programme_id: str, principal: Reader, db: DatabaseDep, request: Request, format_: FormatQuery = None
) -> Any:
    csv_wanted = wants_csv(request, format_)
    report = await learning.learning_report(db, principal, programme_id)
    if csv_wanted:
        return csv_response(
            to_csv(documents.LEARNING_COLUMNS, documents.learning_rows(report)),
            f"learning-track-{programme_id}.csv",
        )
    return documents.track_out(report)


async def _learning_chart(
    programme_id: str, principal: Principal, db: Database, workers: WorkerPool, chart_format: ChartFormat
) -> Response:
    report = await learning.learning_report(db, principal, programme_id)
    # Rendering is slow enough to hold up every request and consumer: beside the loop (figures:
    # docs/performance.md#reports-and-the-event-loop-2026-12-06).
    return await workers.run(_chart_response, documents.learning_chart(report), chart_format)


@router.get(
    "/programmes/{programme_id}/learning-track/chart.png",
    response_class=Response,
    tags=["learning track"],
    summary="Bars per year, dashed lines at the Covid-period level and the 80 % target (PNG)",
    responses=PNG,
)
async def learning_chart_png(
    programme_id: str, principal: Reader, db: DatabaseDep, workers: WorkersDep
) -> Response:
    return await _learning_chart(programme_id, principal, db, workers, ChartFormat.png)


@router.get(
    "/programmes/{programme_id}/learning-track/chart.svg",
    response_class=Response,
    tags=["learning track"],
    summary="Bars per year, dashed lines at the Covid-period level and the 80 % target (SVG)",
    responses=SVG,
)
async def learning_chart_svg(
    programme_id: str, principal: Reader, db: DatabaseDep, workers: WorkersDep
) -> Response:
    return await _learning_chart(programme_id, principal, db, workers, ChartFormat.svg)


# --- the provider's progression summary ------------------------------------------------------------


@router.get(
    "/programmes/{programme_id}/progression-summary",
    response_model=ProgressionSummaryOut,
    tags=["progression summary"],
    summary="Per indicator group and period: participants measured, mean scores and the change since "
    "the first period; cells from fewer than 3 participants suppressed; CSV with ?format=csv",
    responses=CSV,
)
async def get_progression_summary(
    programme_id: str,
    principal: Reader,
    db: DatabaseDep,
    request: Request,
    workers: WorkersDep,
    period: PeriodQuery = "quarter",
    format_: FormatQuery = None,
) -> Response:
    csv_wanted = wants_csv(request, format_)
    rows = await progress.measurements_of(db, principal, programme_id)
    # The summary grows with the measurements: made beside the loop.
    return await workers.run(_progression_document, programme_id, rows, period, csv_wanted)


def _progression_document(
    programme_id: str, rows: Sequence[MeasurementCopyRow], period: PeriodKind, csv_wanted: bool
) -> Response:
    summary = progress.summary(programme_id, rows, period)
    if csv_wanted:
        return csv_response(
            to_csv(documents.SUMMARY_COLUMNS, documents.summary_rows(summary)),
            f"progression-summary-{programme_id}-{period}.csv",
        )
    return json_response(documents.summary_out(summary))


def _progression_chart(
    programme_id: str, rows: Sequence[MeasurementCopyRow], period: PeriodKind, chart_format: ChartFormat
) -> Response:
    return chart_response(documents.summary_chart(progress.summary(programme_id, rows, period)), chart_format)


def _chart_response(chart: Chart, chart_format: ChartFormat) -> Response:
    return chart_response(chart, chart_format)


@router.get(
    "/programmes/{programme_id}/progression-summary/chart.png",
    response_class=Response,
    tags=["progression summary"],
    summary="One line per indicator group over the periods, mean score 1-10 (PNG)",
    responses=PNG,
)
async def progression_chart_png(
    programme_id: str,
    principal: Reader,
    db: DatabaseDep,
    workers: WorkersDep,
    period: PeriodQuery = "quarter",
) -> Response:
    rows = await progress.measurements_of(db, principal, programme_id)
    return await workers.run(_progression_chart, programme_id, rows, period, ChartFormat.png)


@router.get(
    "/programmes/{programme_id}/progression-summary/chart.svg",
    response_class=Response,
    tags=["progression summary"],
    summary="One line per indicator group over the periods, mean score 1-10 (SVG)",
    responses=SVG,
)
async def progression_chart_svg(
    programme_id: str,
    principal: Reader,
    db: DatabaseDep,
    workers: WorkersDep,
    period: PeriodQuery = "quarter",
) -> Response:
    rows = await progress.measurements_of(db, principal, programme_id)
    return await workers.run(_progression_chart, programme_id, rows, period, ChartFormat.svg)
