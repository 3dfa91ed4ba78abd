"""The personal-data terms (retention_years, legal_basis) travel from intake to settlement in the terms
event and read back from settlement's GET .../terms as intake shows them, with their defaults where a version leaves them out
or was stored before they existed."""

from __future__ import annotations

import copy

from sqlalchemy import select, update

from libs.common.auth import Role
from libs.common.contracts import DEFAULT_LEGAL_BASIS
from services.settlement.models import ProgrammeTermsRow
from tests.integration.conftest import SEED, Trio, auth, eventually

PROGRAMME = SEED["programme_id"]
ADMIN = auth(Role.admin)
JOBCENTER = auth(Role.jobcenter, PROGRAMME)
BASIS = "GDPR art. 6(1)(e) og 9(2)(b); lov om en aktiv beskæftigelsesindsats; Hedensted byrådsbeslutning"


async def test_the_personal_data_terms_read_back_from_settlement_with_their_defaults(trio: Trio) -> None:
    first = copy.deepcopy(SEED)
    first["terms"] |= {"retention_years": 10, "legal_basis": BASIS}
    assert (await trio.intake.post("/v1/programmes", json=first, headers=ADMIN)).status_code == 201
    later = {"effective_from": "2030-01-01", "terms": copy.deepcopy(SEED["terms"])}  # neither term given
    published = await trio.intake.post(f"/v1/programmes/{PROGRAMME}/terms", json=later, headers=ADMIN)
    assert published.status_code == 201, published.text

    url = f"/v1/programmes/{PROGRAMME}/terms"

    async def both_arrived() -> bool:
        response = await trio.settlement.get(url, headers=JOBCENTER)
        return response.status_code == 200 and len(response.json()["versions"]) == 2

    await eventually(both_arrived)
    versions = (await trio.settlement.get(url, headers=JOBCENTER)).json()["versions"]
    read = [(v["terms"]["retention_years"], v["terms"]["legal_basis"]) for v in versions]
    assert read == [(10, BASIS), (5, DEFAULT_LEGAL_BASIS)]
    in_intake = (await trio.intake.get(f"/v1/programmes/{PROGRAMME}", headers=ADMIN)).json()["versions"]
    assert [v["terms"] for v in in_intake] == [v["terms"] for v in versions]

    # A version settlement stored before the terms existed reads with the defaults.
    database = trio.settlement.app.state.database
    async with database.sessionmaker() as session:
        row = (
            await session.execute(select(ProgrammeTermsRow).where(ProgrammeTermsRow.version == 1))
        ).scalar_one()
        old = {k: v for k, v in row.terms.items() if k not in ("retention_years", "legal_basis")}
        await session.execute(
            update(ProgrammeTermsRow).where(ProgrammeTermsRow.version == 1).values(terms=old)
        )
        await session.commit()
    versions = (await trio.settlement.get(url, headers=JOBCENTER)).json()["versions"]
    assert (versions[0]["terms"]["retention_years"], versions[0]["terms"]["legal_basis"]) == (
        5,
        DEFAULT_LEGAL_BASIS,
    )
