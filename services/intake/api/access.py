"""A citizen's right of access (GDPR art. 15): one document with everything the platform holds about
the citizen in a programme, for the programme's jobcenter. The CPR goes in the body, never the URL."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, JSONResponse, Response
from pydantic import AwareDatetime, BaseModel, Field

from libs.common.deps import DatabaseDep
from libs.common.readaudit.api import ReadAuditDep, reads_naming
from services.intake.api.access_html import render
from services.intake.api.deps import CallerDep, Jobcenter, Protection
from services.intake.api.participants import participant_out
from services.intake.schemas import AuditEntryOut, CprLookup, ParticipantOut
from services.intake.services import access
from services.intake.services.peers import PersonalDataSources

router = APIRouter(prefix="/v1", tags=["access"])


class ExportInfo(BaseModel):
    generated_at: AwareDatetime
    requested_by: str = Field(description="The jobcenter token's subject")
    gathered_from: list[str] = Field(description="The services whose parts the document holds")


class ProgrammeBasisOut(BaseModel):
    programme_id: str
    name: str
    terms_version: int = Field(description="The current terms version, whose legal basis and retention apply")
    legal_basis: str
    retention_years: int = Field(description="Years after the end of the window before the data is erased")


class IntakePart(BaseModel):
    service: str = "intake"
    participant: ParticipantOut = Field(
        description="Referral, consent, enrolment and withdrawal, with the CPR number"
    )
    cpr_audit: list[AuditEntryOut] = Field(
        description="Every read or write of this participant's CPR number, this export's included"
    )
    # Who read this participant's data in intake: filled when intake keeps a read audit (issue 28).
    read_audit: list[dict[str, Any]] = Field(default_factory=list)


class AccessExportOut(BaseModel):
    export: ExportInfo
    programme: ProgrammeBasisOut
    intake: IntakePart
    progression: dict[str, Any] | None = Field(
        description="Progression's `GET /v1/participants/{id}/personal-data` answer; null when it holds "
        "nothing of the participant"
    )
    settlement: dict[str, Any] | None = Field(
        description="Settlement's `GET /v1/participants/{id}/personal-data` answer; null when it holds "
        "nothing of the participant"
    )


def export_out(export: access.AccessExport, reads: list[dict[str, Any]]) -> AccessExportOut:
    p = export.programme
    return AccessExportOut(
        export=ExportInfo(
            generated_at=export.generated_at,
            requested_by=export.requested_by,
            gathered_from=["intake", *(name for name, part in export.parts.items() if part is not None)],
        ),
        programme=ProgrammeBasisOut(
            programme_id=p.programme_id,
            name=p.name,
            terms_version=p.terms_version,
            legal_basis=p.legal_basis,
            retention_years=p.retention_years,
        ),
        intake=IntakePart(
            participant=participant_out(export.participant),
            cpr_audit=[AuditEntryOut.model_validate(e, from_attributes=True) for e in export.cpr_audit],
            read_audit=reads,
        ),
        progression=export.parts.get("progression"),
        settlement=export.parts.get("settlement"),
    )


def _wants_html(request: Request, format: str | None) -> bool:
    if format is not None:
        return format == "html"
    accept = request.headers.get("accept", "")
    return "text/html" in accept and "application/json" not in accept


@router.post(
    "/programmes/{programme_id}/access-exports",
    response_model=AccessExportOut,
    summary="Everything the platform holds about a citizen in the programme (the programme's jobcenter; "
    "a right-of-access request); the CPR goes in the body. Accept: text/html or ?format=html for a "
    "readable page",
    responses={
        200: {"content": {"application/json": {}, "text/html": {}}},
        404: {"description": "No such programme, or no participant with this CPR number in it"},
        503: {"description": "Progression or settlement did not answer; the problem names `service`"},
    },
)
async def export(
    programme_id: str,
    body: CprLookup,
    request: Request,
    _: Jobcenter,
    caller: CallerDep,
    db: DatabaseDep,
    protection: Protection,
    recorder: ReadAuditDep,
    format: Annotated[Literal["json", "html"] | None, Query(description="html: a readable page")] = None,
) -> Response:
    """A read: POST only because the CPR number goes in the body. Each call is audited."""
    sources: PersonalDataSources = request.app.state.personal_data_sources
    found = await access.access_export(db, protection, sources, caller, programme_id, body.cpr)
    # The export is a read of the citizen's data like any other: its row is in the document it makes.
    participant_id = found.participant.participant.participant_id
    await recorder.record(caller.principal, programme_id, [participant_id])
    document = export_out(found, await reads_naming(db, participant_id)).model_dump(mode="json")
    headers = {"Cache-Control": "no-store"}  # a citizen's whole record: no cache keeps a copy
    if _wants_html(request, format):
        return HTMLResponse(render(document), headers=headers)
    return JSONResponse(document, headers=headers)
