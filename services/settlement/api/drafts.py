"""Statement lifecycle routes: prepare a draft, read, list and discard drafts, approve one (which issues
the statement). docs/domain.md "Statement lifecycle"; the README's diagram."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request, status
from fastapi.responses import JSONResponse, Response, StreamingResponse

from libs.common.auth import Principal, Role, require_roles
from libs.common.clock import as_utc
from libs.common.deps import DatabaseDep
from libs.common.ids import Uuid
from services.settlement.api.statement_documents import CSV_COLUMNS, csv_rows, statement_response
from services.settlement.domain import Month
from services.settlement.schemas import (
    ApprovalRequest,
    DraftList,
    DraftOut,
    DraftSummaryOut,
    StatementOut,
    StatementRequest,
)
from services.settlement.services import statements
from services.settlement.services.statements import DraftDocument, DraftView

router = APIRouter(prefix="/v1")

Preparer = Annotated[Principal, Depends(require_roles(Role.jobcenter, Role.admin))]
Approver = Annotated[Principal, Depends(require_roles(Role.finance))]
DraftReader = Annotated[
    Principal, Depends(require_roles(Role.jobcenter, Role.finance, Role.admin, Role.auditor))
]


def summary_out(view: DraftView) -> DraftSummaryOut:
    fields = vars(view).copy()
    fields.pop("created")
    return DraftSummaryOut(**fields)


@router.post(
    "/programmes/{programme_id}/statements",
    status_code=status.HTTP_201_CREATED,
    response_model=DraftSummaryOut,
    tags=["statements"],
    summary="Prepare the draft of a period's statement (jobcenter or admin): computed from the data now; "
    "the period's open draft again recomputes it (200); an issued period answers with its issued draft",
    responses={
        200: {"description": "The period's open draft, recomputed (or its issued draft)"},
        409: {"description": "A later period has been issued already"},
    },
)
async def prepare(programme_id: str, body: StatementRequest, principal: Preparer, db: DatabaseDep) -> Any:
    view = await statements.prepare_draft(db, principal, programme_id, Month.parse(body.period))
    code = status.HTTP_201_CREATED if view.created else status.HTTP_200_OK
    return JSONResponse(summary_out(view).model_dump(mode="json"), status_code=code)


@router.get(
    "/programmes/{programme_id}/statement-drafts",
    response_model=DraftList,
    tags=["statements"],
    summary="The programme's drafts (open, discarded, issued) in period order, as last prepared",
)
async def list_drafts(programme_id: str, principal: DraftReader, db: DatabaseDep) -> DraftList:
    views = await statements.list_drafts(db, principal, programme_id)
    return DraftList(items=[summary_out(view) for view in views])


@router.get(
    "/statements/drafts/{draft_id}",
    response_model=DraftOut,
    tags=["statements"],
    summary="A draft computed afresh from the data now, with its lines and the sha256 to approve; as "
    "CSV with Accept: text/csv",
    responses={200: {"content": {"text/csv": {}}}},
)
async def get_draft(draft_id: Uuid, principal: DraftReader, db: DatabaseDep, request: Request) -> Response:
    row = await statements.readable_draft(db, principal, draft_id)
    document = DraftDocument(db, row)
    if "text/csv" in request.headers.get("accept", ""):
        return StreamingResponse(
            _draft_csv(document),
            media_type="text/csv",
            headers={"Content-Disposition": f'attachment; filename="draft-{row.period}.csv"'},
        )
    return StreamingResponse(_draft_json(document), media_type="application/json")


async def _draft_json(document: DraftDocument) -> AsyncIterator[bytes]:
    """``DraftOut``, its lines first (a draft may hold millions, computed as they are written out),
    then what they add up to."""
    yield b'{"lines":['
    first = True
    async for chunk in document.lines():
        text = json.dumps(chunk, separators=(",", ":"))
        yield (text[1:-1] if first else "," + text[1:-1]).encode()
        first = False
    row, fields = document.row, document.fields
    rest = DraftOut.model_validate(
        fields | {
            "draft_id": row.draft_id, "programme_id": row.programme_id, "period": row.period,
            "state": row.state, "prepared_by": row.prepared_by, "prepared_at": as_utc(row.prepared_at),
            "lines": [],
        }
    ).model_dump_json(exclude={"lines"})  # fmt: skip
    yield ("]," + rest[1:]).encode()


async def _draft_csv(document: DraftDocument) -> AsyncIterator[str]:
    yield csv_rows([CSV_COLUMNS])
    async for chunk in document.lines():
        yield csv_rows(["" if line[c] is None else line[c] for c in CSV_COLUMNS] for line in chunk)
    fields = document.fields
    yield csv_rows(
        [[], ["total", "value"], *([name, value] for name, value in fields["totals"].items()),
         ["sha256", fields["sha256"]]]
    )  # fmt: skip


@router.delete(
    "/statements/drafts/{draft_id}",
    response_model=DraftSummaryOut,
    tags=["statements"],
    summary="Discard an open draft (jobcenter or admin); again changes nothing",
    responses={409: {"description": "The draft is issued already"}},
)
async def discard(draft_id: Uuid, principal: Preparer, db: DatabaseDep) -> DraftSummaryOut:
    return summary_out(await statements.discard_draft(db, principal, draft_id))


@router.post(
    "/statements/drafts/{draft_id}/approval",
    status_code=status.HTTP_201_CREATED,
    response_model=StatementOut,
    tags=["statements"],
    summary="Approve a draft as reviewed (finance, never a preparer of it): issues its statement, "
    "exactly the document of the sha256 named; the same approval again returns it (200)",
    responses={
        200: {"description": "Issued already with this sha256: the statement (a retry)"},
        403: {"description": "The approver prepared the draft (four eyes)"},
        409: {
            "description": "The draft changed since (the current sha256 given), was discarded, or a "
            "later period is issued"
        },
    },
)
async def approve(
    draft_id: Uuid, body: ApprovalRequest, principal: Approver, db: DatabaseDep, request: Request
) -> StreamingResponse:
    result = await statements.approve_draft(db, principal, draft_id, body.sha256)
    code = status.HTTP_201_CREATED if result.created else status.HTTP_200_OK
    return statement_response(db, result.statement, principal, request, code)
