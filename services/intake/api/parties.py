"""The parties of a programme: publish a version, read them."""

from __future__ import annotations

from fastapi import APIRouter, Response, status

from libs.common.contracts import ProgrammeParties
from libs.common.deps import DatabaseDep
from services.intake.api.deps import PartiesReader, PartiesWriter
from services.intake.domain import PartiesVersion
from services.intake.schemas import PartiesOut, PartiesVersionCreate, PartiesVersionOut
from services.intake.services import parties
from services.intake.services.parties import PartiesView

router = APIRouter(prefix="/v1", tags=["programmes"])


def _version_out(version: PartiesVersion) -> PartiesVersionOut:
    return PartiesVersionOut.model_validate(
        {
            "version": version.version,
            "effective_from": version.effective_from,
            "published_at": version.published_at,
            "recorded_by": version.recorded_by,
            **version.parties.model_dump(mode="json"),
        }
    )


def parties_out(view: PartiesView) -> PartiesOut:
    current = view.current
    return PartiesOut(
        programme_id=view.programme_id,
        current=_version_out(current) if current else None,
        versions=[_version_out(v) for v in view.versions],
    )


@router.post(
    "/programmes/{programme_id}/parties",
    status_code=status.HTTP_201_CREATED,
    response_model=PartiesOut,
    summary="Publish a new version of the programme's parties (jobcenter, admin); versions are never edited",
    responses={
        200: {"description": "The same version was already published (a retry)"},
        404: {"description": "No such programme (or not in the token's scope)"},
        409: {"description": "Another version was published at the same moment"},
        422: {
            "description": "A field breaks its rule (CVR modulus 11, EAN/GLN check digit, IBAN mod 97, "
            "a bank account that is not exactly one of IBAN or reg_no + account_no), or effective_from "
            "before the latest version's; the field is named, its value never repeated"
        },
    },
)
async def publish_parties(
    programme_id: str,
    body: PartiesVersionCreate,
    principal: PartiesWriter,
    db: DatabaseDep,
    response: Response,
) -> PartiesOut:
    content = ProgrammeParties(municipality=body.municipality, provider=body.provider, investor=body.investor)
    view = await parties.publish_parties(db, principal, programme_id, body.effective_from, content)
    if not view.created:
        response.status_code = status.HTTP_200_OK
    return parties_out(parties.published(view, principal))


@router.get(
    "/programmes/{programme_id}/parties",
    response_model=PartiesOut,
    summary="The programme's parties: the latest version and every version (bank accounts masked for "
    "provider and investor)",
    responses={404: {"description": "No such programme (or not in the token's scope)"}},
)
async def get_parties(programme_id: str, principal: PartiesReader, db: DatabaseDep) -> PartiesOut:
    return parties_out(await parties.read_parties(db, principal, programme_id))
