"""The data-quality monitor's route: JSON, or CSV with ``?format=csv`` or ``Accept: text/csv``.
Jobcenter, provider and admin read the discrepancies per citizen; the investor reads counts only."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import Response

from libs.common.auth import Principal, Role, require_roles
from libs.common.dates import WorldDate, today_in_denmark
from libs.common.deps import DatabaseDep, WorkersDep
from libs.common.errors import ValidationFailed
from libs.common.readaudit.api import ReadAuditDep
from libs.common.reports import csv_response, json_response, to_csv, wants_csv
from services.progression.domain.data_quality import FEED_UNKNOWN, Lateness
from services.progression.services import data_quality as service

router = APIRouter(prefix="/v1", tags=["data quality"])

Reader = Annotated[
    Principal, Depends(require_roles(Role.jobcenter, Role.provider, Role.investor, Role.admin, Role.auditor))
]
FormatQuery = Annotated[str | None, Query(alias="format", description="json (default) or csv")]

# One CSV table for every section: a row's ``section`` says which columns it fills.
CSV_COLUMNS = (
    "section",
    "feed",
    "participant_id",
    "kind",
    "milestone_id",
    "milestone_kind",
    "milestone_on",
    "turned_on",
    "checked_on",
    "month",
    "records",
    "late",
    "share_late",
    "mean_days_late",
    "max_days_late",
    "citizens",
    "covered_on",
    "lag_days",
)


LATENESS_FIELDS = ("records", "late", "share_late", "mean_days_late", "max_days_late")


def _lateness(lateness: Lateness | None) -> dict[str, Any] | None:
    if lateness is None:
        return None
    return {
        "records": lateness.records,
        "late": lateness.late,
        "share_late": lateness.share_late,
        "mean_days_late": lateness.mean_days_late,
        "max_days_late": lateness.days_late_max,
    }


def document(report: service.DataQualityReport) -> dict[str, Any]:
    out: dict[str, Any] = {
        "programme_id": report.programme_id,
        "as_of": report.as_of,
        "discrepancy_weeks": report.discrepancy_weeks,
        "cutoff": {
            "complete_through": report.cutoff,
            "behind_days": report.cutoff_behind_days,
            "months": [
                {"month": lag.month, "covered_on": lag.covered_on, "lag_days": lag.lag_days}
                for lag in report.cutoff_lags
            ],
        },
        "late_records": _lateness(report.late),
        # A feed withheld by the small-cell rule keeps its name, its figures null.
        "late_records_by_feed": [
            {"feed": row.feed} | (_lateness(row.lateness) or dict.fromkeys(LATENESS_FIELDS))
            for row in report.late_by_feed
        ],
        "discrepancy_counts": report.discrepancy_counts,
        "discrepancy_counts_by_feed": report.discrepancy_counts_by_feed,
    }
    if report.person_level:
        out["late_records_by_month"] = [
            {"month": row.month} | (_lateness(row.lateness) or {}) for row in report.late_by_month
        ]
        out["discrepancies"] = [
            {
                "participant_id": d.participant_id,
                "kind": d.kind.value,
                "milestone_id": d.milestone_id,
                "milestone_kind": d.milestone_kind,
                "milestone_on": d.milestone_on,
                "turned_on": d.turned_on,
                "checked_on": d.checked_on,
                "feed": report.record_feeds.get(d.record_id or "", FEED_UNKNOWN),
            }
            for d in report.discrepancies or []
        ]
    return out


def csv_rows(doc: dict[str, Any]) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = [{"section": "discrepancy"} | d for d in doc.get("discrepancies", [])]
    rows += [
        {"section": "discrepancy_count", "kind": kind, "citizens": count}
        for kind, count in doc["discrepancy_counts"].items()
    ]
    rows += [
        {"section": "discrepancy_count_by_feed", "feed": feed, "citizens": count}
        for feed, count in doc["discrepancy_counts_by_feed"].items()
    ]
    if doc["late_records"] is not None:
        rows.append({"section": "late_records"} | doc["late_records"])
    rows += [{"section": "late_records_by_month"} | row for row in doc.get("late_records_by_month", [])]
    rows += [{"section": "late_records_by_feed"} | row for row in doc["late_records_by_feed"]]
    rows += [{"section": "cutoff_lag"} | row for row in doc["cutoff"]["months"]]
    return rows


def _respond(facts: service.DataQualityFacts, csv_wanted: bool) -> Response:
    doc = document(service.data_quality(facts))
    if not csv_wanted:
        return json_response(doc)
    return csv_response(to_csv(CSV_COLUMNS, csv_rows(doc)), f"data-quality-{facts.programme_id}.csv")


@router.get(
    "/programmes/{programme_id}/data-quality",
    summary="Discrepancies between the provider's exit milestones and the jobcenter's timeline, late "
    "status records and the data cut-off's lag, per programme and per jobcenter feed (the investor reads "
    "counts only)",
    responses={
        200: {"content": {"text/csv": {}}},
        404: {"description": "No such programme in the caller's scope"},
        422: {
            "description": "discrepancy_weeks outside 1-26, as_of later than today, format not json or csv"
        },
    },
)
async def get_data_quality(
    programme_id: str,
    request: Request,
    principal: Reader,
    db: DatabaseDep,
    workers: WorkersDep,
    audit: ReadAuditDep,
    format_: FormatQuery = None,
    discrepancy_weeks: Annotated[
        int, Query(ge=1, le=26, description="Weeks after a milestone the timeline is checked (1-26)")
    ] = 4,
    as_of: Annotated[WorldDate | None, Query(description="Read as known at the end of this day")] = None,
) -> Response:
    csv_wanted = wants_csv(request, format_)
    today = today_in_denmark()
    if as_of is not None and as_of > today:
        raise ValidationFailed.for_field("as_of", f"is later than today ({today.isoformat()}, Danish time)")
    facts = await service.data_quality_facts(db, principal, programme_id, discrepancy_weeks, as_of or today)
    if service.reads_people(principal):
        # Per citizen: one row naming the programme (the discrepancies' citizens are computed later).
        await audit.record(principal, programme_id)
    # Resolving every participant's timeline grows with the programme: beside the loop.
    return await workers.run(_respond, facts, csv_wanted)
