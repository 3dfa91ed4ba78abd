"""Outcome and economics reports: JSON, CSV (``?format=csv`` or ``Accept: text/csv``), and a chart as
PNG or SVG. Investors read aggregates only."""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import Response
from pydantic import BaseModel, ConfigDict, Field, field_validator

from libs.common.auth import Principal, Role, require_roles
from libs.common.db import Database
from libs.common.deps import DatabaseDep, WorkersDep
from libs.common.offload import WorkerPool
from libs.common.readaudit.api import ReadAuditDep
from libs.common.reports import ChartFormat, chart_response, csv_response, json_response, to_csv, wants_csv
from services.settlement.api import outcome_documents as documents
from services.settlement.services import economics as economics_service
from services.settlement.services import outcomes as service

router = APIRouter(prefix="/v1", tags=["outcomes and economics"])

Reader = Annotated[
    Principal, Depends(require_roles(Role.jobcenter, Role.provider, Role.investor, Role.admin, Role.auditor))
]
Admin = Annotated[Principal, Depends(require_roles(Role.admin))]
FormatQuery = Annotated[str | None, Query(alias="format", description="json (default) or csv")]
CHART: dict[int | str, dict[str, Any]] = {200: {"content": {"image/png": {}, "image/svg+xml": {}}}}


# The bootstrap's cost grows with citizens x resamples. A percentile interval is usually drawn from a
# few thousand resamples (the default is 2,000); the bound leaves room above that and keeps one request
# from holding a worker for minutes.
MAX_RESAMPLES = 10_000


@router.get(
    "/programmes/{programme_id}/outcomes",
    summary="Self-supporting weeks against the control group: per citizen (not for investors), per "
    "track and overall, the effect with a 95 % bootstrap interval, the target, and a projection",
    responses={200: {"content": {"text/csv": {}}}},
)
async def get_outcomes(
    programme_id: str,
    request: Request,
    principal: Reader,
    db: DatabaseDep,
    workers: WorkersDep,
    audit: ReadAuditDep,
    format_: FormatQuery = None,
    seed: Annotated[int, Query(ge=0, le=2**31, description="Bootstrap seed")] = 2022,
    resamples: Annotated[
        int, Query(ge=100, le=MAX_RESAMPLES, description="Bootstrap resamples (100-10,000)")
    ] = 2000,
) -> Response:
    csv_wanted = wants_csv(request, format_)
    facts = await service.cohort_facts(db, principal, programme_id)
    if service.reads_people(principal):
        # A row per citizen of the whole cohort: the audit row names the programme, not each citizen.
        await audit.record(principal, programme_id)
    # Evaluating the cohort, the bootstrap and the document grow with the cohort: beside the loop.
    return await workers.run(_outcomes_document, facts, principal, seed, resamples, csv_wanted)


def _outcomes_document(
    facts: service.CohortFacts, principal: Principal, seed: int, resamples: int, csv_wanted: bool
) -> Response:
    report = documents.outcomes_document(
        service.outcomes(service.evaluate_cohort(facts), principal, seed=seed, resamples=resamples)
    )
    if not csv_wanted:
        return json_response(report)
    if "items" in report:
        text = to_csv(documents.OUTCOME_COLUMNS, report["items"])
    else:
        text = to_csv(documents.OUTCOME_TRACK_COLUMNS, report["tracks"])
    return csv_response(text, f"outcomes-{facts.programme_id}.csv")


def _outcomes_chart(facts: service.CohortFacts, chart_format: ChartFormat) -> Response:
    return chart_response(
        documents.outcomes_chart(service.window_shares(service.evaluate_cohort(facts))), chart_format
    )


async def outcomes_chart(
    programme_id: str, chart_format: ChartFormat, principal: Principal, db: Database, workers: WorkerPool
) -> Response:
    facts = await service.cohort_facts(db, principal, programme_id)
    return await workers.run(_outcomes_chart, facts, chart_format)


OUTCOMES_CHART = "Share of the cohort self-supporting per month of the window against the control baseline"


@router.get(
    "/programmes/{programme_id}/outcomes/chart.png",
    summary=OUTCOMES_CHART,
    response_class=Response,
    responses=CHART,
)
async def get_outcomes_png(
    programme_id: str, principal: Reader, db: DatabaseDep, workers: WorkersDep
) -> Response:
    return await outcomes_chart(programme_id, ChartFormat.png, principal, db, workers)


@router.get(
    "/programmes/{programme_id}/outcomes/chart.svg",
    summary=OUTCOMES_CHART,
    response_class=Response,
    responses=CHART,
)
async def get_outcomes_svg(
    programme_id: str, principal: Reader, db: DatabaseDep, workers: WorkersDep
) -> Response:
    return await outcomes_chart(programme_id, ChartFormat.svg, principal, db, workers)


@router.get(
    "/programmes/{programme_id}/economics",
    summary="Fees to date and projected, the investor's cash flows, result and IRR, the provider's "
    "share, and the municipality's estimated savings and net gain",
    responses={200: {"content": {"text/csv": {}}}},
)
async def get_economics(
    programme_id: str,
    request: Request,
    principal: Reader,
    db: DatabaseDep,
    workers: WorkersDep,
    format_: FormatQuery = None,
) -> Response:
    csv_wanted = wants_csv(request, format_)
    facts = await economics_service.economics_facts(db, principal, programme_id)
    return await workers.run(_economics_document, facts, csv_wanted)


def _economics_document(facts: economics_service.EconomicsFacts, csv_wanted: bool) -> Response:
    document = documents.economics_document(economics_service.economics(facts))
    if not csv_wanted:
        return json_response(document)
    return csv_response(
        to_csv(documents.ECONOMICS_COLUMNS, documents.economics_rows(document)),
        f"economics-{facts.cohort.programme_id}.csv",
    )


def _economics_chart(facts: economics_service.EconomicsFacts, chart_format: ChartFormat) -> Response:
    return chart_response(documents.economics_chart(economics_service.economics(facts)), chart_format)


async def economics_chart(
    programme_id: str, chart_format: ChartFormat, principal: Principal, db: Database, workers: WorkerPool
) -> Response:
    facts = await economics_service.economics_facts(db, principal, programme_id)
    return await workers.run(_economics_chart, facts, chart_format)


ECONOMICS_CHART = "Cumulative fees (invoiced, then projected) against the cap"


@router.get(
    "/programmes/{programme_id}/economics/chart.png",
    summary=ECONOMICS_CHART,
    response_class=Response,
    responses=CHART,
)
async def get_economics_png(
    programme_id: str, principal: Reader, db: DatabaseDep, workers: WorkersDep
) -> Response:
    return await economics_chart(programme_id, ChartFormat.png, principal, db, workers)


@router.get(
    "/programmes/{programme_id}/economics/chart.svg",
    summary=ECONOMICS_CHART,
    response_class=Response,
    responses=CHART,
)
async def get_economics_svg(
    programme_id: str, principal: Reader, db: DatabaseDep, workers: WorkersDep
) -> Response:
    return await economics_chart(programme_id, ChartFormat.svg, principal, db, workers)


class StaircaseStep(BaseModel):
    model_config = ConfigDict(extra="forbid")

    from_week: int = Field(ge=1, le=520, description="First cumulative week on support of this step")
    refund_percent: Decimal = Field(ge=0, le=100, description="State refund share from that week on")


Rate = Annotated[Decimal, Field(ge=0, le=100_000, description="DKK per week")]


class AssumptionsIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    weekly_rates: dict[str, dict[int, Rate]] = Field(description="Per track, per year: DKK per week")
    refund_staircase: list[StaircaseStep] = Field(min_length=1)
    prior_weeks_on_support: dict[str, Annotated[int, Field(ge=0, le=520)]] = Field(default_factory=dict)

    @field_validator("weekly_rates")
    @classmethod
    def _years(cls, value: dict[str, dict[int, Decimal]]) -> dict[str, dict[int, Decimal]]:
        for rates in value.values():
            if not rates:
                raise ValueError("each track needs at least one year's rate")
            if any(not 2000 <= year <= 2100 for year in rates):
                raise ValueError("years must be 2000-2100")
        return value

    @field_validator("refund_staircase")
    @classmethod
    def _ascending(cls, value: list[StaircaseStep]) -> list[StaircaseStep]:
        weeks = [step.from_week for step in value]
        if weeks[0] != 1 or weeks != sorted(set(weeks)):
            raise ValueError("steps must start at week 1 and ascend")
        return value


@router.get("/programmes/{programme_id}/economic-assumptions", summary="Rates and staircase in use")
async def get_assumptions(programme_id: str, principal: Reader, db: DatabaseDep) -> dict[str, Any]:
    return documents.assumptions_in_use(await economics_service.get_assumptions(db, principal, programme_id))


@router.put(
    "/programmes/{programme_id}/economic-assumptions",
    summary="Set the programme's benefit rates per year, refund staircase and prior weeks (admin)",
)
async def put_assumptions(
    programme_id: str, body: AssumptionsIn, principal: Admin, db: DatabaseDep
) -> dict[str, Any]:
    stored = await economics_service.put_assumptions(
        db, principal, programme_id, body.model_dump(mode="json")
    )
    return documents.assumptions_in_use(stored)
