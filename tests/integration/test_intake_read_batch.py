"""Intake's batch read (`POST /v1/participants/read-batch`): many participants by id in one body,
answered from one query without any CPR, within the caller's programmes; real database (SQLite and
PostgreSQL)."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from sqlalchemy import func, select

from libs.common.auth import Role
from services.intake.models import CprAuditRow
from tests.integration.conftest import ServiceClient, auth
from tests.integration.test_intake_lookup_batch import (
    CPR_A,
    CPR_B,
    EVERYWHERE,
    OTHER_PROGRAMME,
    PROGRAMME,
    setup,
    shows_a_cpr,
    statements,
)

PATH = "/v1/participants/read-batch"
PROGRESSION = auth(Role.progression_service, subject="sib-progression")


async def audited(client: ServiceClient) -> int:
    async with client.app.state.database.sessionmaker() as session:
        return int(await session.scalar(select(func.count()).select_from(CprAuditRow)) or 0)


async def test_each_participant_named_is_answered_once_in_request_order_without_its_cpr(
    intake: ServiceClient,
) -> None:
    ids = await setup(intake)
    a_here, a_there, b_here = (
        ids[f"{CPR_A}@{PROGRAMME}"],
        ids[f"{CPR_A}@{OTHER_PROGRAMME}"],
        ids[f"{CPR_B}@{PROGRAMME}"],
    )
    stranger = str(uuid.uuid4())
    before = await audited(intake)
    asked = [b_here, stranger, a_there, b_here.upper(), a_here]
    with statements(intake) as seen:
        response = await intake.post(PATH, json={"participant_ids": asked}, headers=PROGRESSION)
    assert response.status_code == 200, response.text
    items = response.json()["items"]
    # Unknown ids are left out; an id named twice (upper case is the same id) is answered once.
    assert [p["participant_id"] for p in items] == [b_here, a_there, a_here]
    # The same fields the single read gives progression's identity: no CPR, the mask only.
    single = await intake.get(f"/v1/participants/{b_here}", headers=PROGRESSION)
    assert items[0] == single.json()
    assert {(p["cpr"], p["cpr_masked"]) for p in items} == {(None, "******-****")}
    assert not shows_a_cpr(response.text, CPR_A, CPR_B)
    reads = [s for s in seen if "participants" in s and s.lstrip().upper().startswith("SELECT")]
    assert len(reads) == 1, seen

    # Not even the jobcenter gets a number here, so nothing is decrypted and nothing audited.
    jobcenter = await intake.post(PATH, json={"participant_ids": asked}, headers=EVERYWHERE)
    assert jobcenter.status_code == 200, jobcenter.text
    assert jobcenter.json() == response.json()
    assert not shows_a_cpr(jobcenter.text, CPR_A, CPR_B)
    assert await audited(intake) == before


@pytest.mark.parametrize("role", [Role.jobcenter, Role.provider])
async def test_a_caller_sees_only_the_participants_of_its_programmes(
    intake: ServiceClient, role: Role
) -> None:
    ids = await setup(intake)
    response = await intake.post(
        PATH, json={"participant_ids": list(ids.values())}, headers=auth(role, PROGRAMME)
    )
    assert response.status_code == 200, response.text
    assert {p["participant_id"] for p in response.json()["items"]} == {
        ids[f"{CPR_A}@{PROGRAMME}"],
        ids[f"{CPR_B}@{PROGRAMME}"],
    }
    # A person's token holding every programme is scoped to nothing.
    everything = await intake.post(PATH, json={"participant_ids": list(ids.values())}, headers=auth(role))
    assert everything.status_code == 200 and everything.json()["items"] == []
    # The admin and progression's identity see every programme.
    for headers in (auth(Role.admin), PROGRESSION):
        response = await intake.post(PATH, json={"participant_ids": list(ids.values())}, headers=headers)
        assert {p["participant_id"] for p in response.json()["items"]} == set(ids.values())


async def test_the_limit_is_10000_ids_and_a_larger_or_empty_batch_is_a_422_naming_participant_ids(
    intake: ServiceClient,
) -> None:
    ids = await setup(intake)
    full = [*ids.values(), *(str(uuid.uuid4()) for _ in range(10_000 - len(ids)))]
    response = await intake.post(PATH, json={"participant_ids": full}, headers=PROGRESSION)
    assert response.status_code == 200, response.text
    assert {p["participant_id"] for p in response.json()["items"]} == set(ids.values())

    bodies: list[dict[str, Any]] = [
        {"participant_ids": [*full, str(uuid.uuid4())]},
        {"participant_ids": []},
        {},
    ]
    for body in bodies:
        refused = await intake.post(PATH, json=body, headers=PROGRESSION)
        assert refused.status_code == 422, refused.text
        assert refused.headers["content-type"] == "application/problem+json"
        assert [e["field"] for e in refused.json()["errors"]] == ["participant_ids"]


async def test_an_id_that_is_not_a_uuid_is_a_422_naming_its_position_and_not_echoed(
    intake: ServiceClient,
) -> None:
    ids = await setup(intake)
    for bad in ("not-a-participant", CPR_A, "0101901234", "'; DROP TABLE participants; --"):
        refused = await intake.post(
            PATH, json={"participant_ids": [next(iter(ids.values())), bad]}, headers=PROGRESSION
        )
        assert refused.status_code == 422, refused.text
        assert refused.headers["content-type"] == "application/problem+json"
        [error] = refused.json()["errors"]
        assert error["field"] == "participant_ids[1]" and "must be a UUID" in error["message"]
        assert bad not in refused.text
    extra = await intake.post(
        PATH, json={"participant_ids": list(ids.values()), "cpr": CPR_A}, headers=PROGRESSION
    )
    assert extra.status_code == 422 and not shows_a_cpr(extra.text, CPR_A)


@pytest.mark.parametrize("role", [Role.investor, Role.integrator, Role.settlement_service])
async def test_other_roles_are_refused(intake: ServiceClient, role: Role) -> None:
    ids = await setup(intake)
    response = await intake.post(
        PATH, json={"participant_ids": list(ids.values())}, headers=auth(role, PROGRAMME)
    )
    assert response.status_code == 403, response.text
    assert all(pid not in response.text for pid in ids.values())
    assert (await intake.post(PATH, json={"participant_ids": list(ids.values())})).status_code == 401
