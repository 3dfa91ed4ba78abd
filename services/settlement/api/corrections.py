"""Corrections of months already invoiced: JSON, or CSV with ``?format=csv`` or ``Accept: text/csv``."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import Response

from libs.common.auth import Principal, Role, require_roles
from libs.common.deps import DatabaseDep
from libs.common.reports import csv_response, json_response, to_csv, wants_csv
from services.settlement.services.corrections import programme_corrections

router = APIRouter(prefix="/v1", tags=["data quality"])

Reader = Annotated[
    Principal, Depends(require_roles(Role.jobcenter, Role.provider, Role.investor, Role.admin, Role.auditor))
]
FormatQuery = Annotated[str | None, Query(alias="format", description="json (default) or csv")]
CSV_COLUMNS = ("statement_id", "period", "month", "lines", "amount_dkk")


@router.get(
    "/programmes/{programme_id}/corrections",
    summary="Adjustment lines of the issued statements (corrections of months already invoiced): "
    "count and amount per statement and month corrected, and in total",
    responses={
        200: {"content": {"text/csv": {}}},
        404: {"description": "No such programme in the caller's scope"},
        422: {"description": "format not json or csv"},
    },
)
async def get_corrections(
    programme_id: str, request: Request, principal: Reader, db: DatabaseDep, format_: FormatQuery = None
) -> Response:
    csv_wanted = wants_csv(request, format_)
    result = await programme_corrections(db, principal, programme_id)
    statements: list[dict[str, Any]] = [
        {
            "statement_id": s.statement_id,
            "period": s.period,
            "lines": s.lines,
            "citizens": s.citizens,
            "amount_dkk": s.amount_dkk,
            "months": [{"month": m.month, "lines": m.lines, "amount_dkk": m.amount_dkk} for m in s.months],
        }
        for s in result.statements
    ]
    if csv_wanted:
        # A row per statement and month, then a row per statement (month empty), then the total.
        rows = [
            {"statement_id": s["statement_id"], "period": s["period"]} | month
            for s in statements
            for month in s["months"]
        ]
        rows += [{k: s[k] for k in ("statement_id", "period", "lines", "amount_dkk")} for s in statements]
        rows.append({"statement_id": "total", "lines": result.lines, "amount_dkk": result.amount_dkk})
        return csv_response(to_csv(CSV_COLUMNS, rows), f"corrections-{programme_id}.csv")
    return json_response(
        {
            "programme_id": programme_id,
            "lines": result.lines,
            "citizens": result.citizens,
            "amount_dkk": result.amount_dkk,
            "suppressed": result.suppressed,
            "statements": statements,
        }
    )
