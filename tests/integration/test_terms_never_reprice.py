"""Terms cannot reprice the past (issue 25, item 2): once a statement has invoiced months up to M, a new
terms version must take effect after M (422 naming effective_from). Intake learns M from settlement's
statement.issued events."""

from __future__ import annotations

import copy

from libs.common.auth import Role
from tests.integration.conftest import SEED, Trio, auth, eventually
from tests.integration.test_settlement import JOBCENTER, PROGRAMME, cutoff, enrol, status, wait_for_fee
from tests.issuing import issue

ADMIN = auth(Role.admin)


async def test_a_new_terms_version_cannot_take_effect_on_an_invoiced_month(trio: Trio) -> None:
    pid = await enrol(trio, "070761-4285")
    await status(trio, pid, "employed", "2024-03-15", "2024-07-31")
    await cutoff(trio, "2024-07-31")
    await wait_for_fee(trio, pid, "2024-06", "3500.00")
    issued = await issue(trio.settlement, PROGRAMME, "2024-08", JOBCENTER)
    assert issued.status_code == 201 and issued.json()["covers_through"] == "2024-06"

    async def learnt() -> bool:
        found = await trio.intake.get(f"/v1/programmes/{PROGRAMME}", headers=ADMIN)
        return bool(found.json().get("invoiced_through") == "2024-06")

    await eventually(learnt)
    terms = copy.deepcopy(SEED["terms"]) | {"fee_per_month_dkk": "9999"}
    url = f"/v1/programmes/{PROGRAMME}/terms"
    for day in ("2024-03-01", "2024-06-30"):  # on the current version's date; inside June
        response = await trio.intake.post(url, json={"effective_from": day, "terms": terms}, headers=ADMIN)
        assert response.status_code == 422, response.text
        assert response.json()["errors"][0]["field"] == "effective_from"
        assert "2024-07-01" in response.json()["errors"][0]["message"]
    accepted = await trio.intake.post(
        url, json={"effective_from": "2024-07-01", "terms": terms}, headers=ADMIN
    )
    assert accepted.status_code == 201, accepted.text
    assert accepted.json()["current"]["version"] == 2
