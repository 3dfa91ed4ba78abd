"""Intake's batch lookup (`POST /v1/participants/lookup-batch`): many CPR numbers in one body, answered
per position from one query, each CPR audited, nothing echoed; real database (SQLite and PostgreSQL)."""

from __future__ import annotations

import copy
import logging
import re
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date, timedelta
from typing import Any

import pytest
from sqlalchemy import event, func, select

from libs.common.auth import Role
from services.intake.models import CprAuditRow
from tests.integration.conftest import SEED, ServiceClient, auth

PROGRAMME, OTHER_PROGRAMME = "hedensted-2022", "aarhus-2025"
CPR_A = "010190-1234"
CPR_B = "0202851235"
CPR_UNKNOWN = "030303-4000"
PATH = "/v1/participants/lookup-batch"

JOBCENTER = auth(Role.jobcenter, PROGRAMME, subject="jobcenter-hedensted")
EVERYWHERE = auth(Role.jobcenter, PROGRAMME, OTHER_PROGRAMME, subject="jobcenter-national")
ADMIN = auth(Role.admin, subject="ops")


async def setup(client: ServiceClient) -> dict[str, str]:
    """CPR_A in both programmes, CPR_B in the first only: the participant ids by (cpr, programme)."""
    for programme in (PROGRAMME, OTHER_PROGRAMME):
        body = copy.deepcopy(SEED) | {"programme_id": programme}
        assert (await client.post("/v1/programmes", json=body, headers=ADMIN)).status_code == 201
    ids = {}
    for cpr, programme in ((CPR_A, PROGRAMME), (CPR_A, OTHER_PROGRAMME), (CPR_B, PROGRAMME)):
        response = await client.post(
            "/v1/participants",
            json={
                "programme_id": programme,
                "cpr": cpr,
                "track": "sygedagpenge",
                "referred_on": "2024-03-01",
            },
            headers=EVERYWHERE,
        )
        assert response.status_code == 201, response.text
        ids[f"{cpr}@{programme}"] = response.json()["participant_id"]
    return ids


def digits_of(cpr: str) -> str:
    return cpr.replace("-", "")


def shows_a_cpr(text: str, *cprs: str) -> bool:
    return any(re.search(f"{digits_of(c)}|{digits_of(c)[:6]}-{digits_of(c)[6:]}", text) for c in cprs)


async def audit_rows(client: ServiceClient) -> list[CprAuditRow]:
    async with client.app.state.database.sessionmaker() as session:
        query = select(CprAuditRow).where(CprAuditRow.endpoint == f"POST {PATH}").order_by(CprAuditRow.seq)
        return list((await session.scalars(query)).all())


@contextmanager
def statements(client: ServiceClient) -> Iterator[list[str]]:
    """The SQL statements the service sends while the block runs (an executemany counts once)."""
    seen: list[str] = []
    engine = client.app.state.database.engine.sync_engine

    def record(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        seen.append(statement)

    event.listen(engine, "before_cursor_execute", record)
    try:
        yield seen
    finally:
        event.remove(engine, "before_cursor_execute", record)


async def test_each_position_gets_its_participations_or_its_error_and_no_number_is_echoed(
    intake: ServiceClient,
) -> None:
    ids = await setup(intake)
    single = await intake.post("/v1/participants/lookup", json={"cpr": CPR_B}, headers=JOBCENTER)
    cprs = [CPR_A, "12345", CPR_UNKNOWN, digits_of(CPR_B), "3102901234", CPR_A]
    response = await intake.post(PATH, json={"cprs": cprs}, headers=JOBCENTER)
    assert response.status_code == 200, response.text
    items = response.json()["items"]
    assert [item["index"] for item in items] == list(range(len(cprs)))
    # The token sees hedensted-2022 only: CPR_A's participation in aarhus-2025 is not returned.
    assert [p["participant_id"] for p in items[0]["participants"]] == [ids[f"{CPR_A}@{PROGRAMME}"]]
    assert items[2] == {"index": 2, "participants": []}
    assert items[5] == items[0] | {"index": 5}
    assert "10 digits" in items[1]["error"] and "date" in items[4]["error"]
    assert "participants" not in items[1] and "error" not in items[0]
    # The same fields /lookup returns, without the number: the caller knows what it sent at index 3.
    [one] = single.json()["items"]
    [found] = items[3]["participants"]
    assert found == one | {"cpr": None}
    assert found["cpr_masked"] == "******-****"
    assert not shows_a_cpr(response.text, CPR_A, CPR_B, CPR_UNKNOWN, "3102901234")


async def test_the_whole_batch_is_found_with_one_query_and_audited_in_one_insert(
    intake: ServiceClient,
) -> None:
    ids = await setup(intake)
    born = date(1950, 1, 1)
    unknown = [f"{born + timedelta(days=n):%d%m%y}{n % 4000:04d}" for n in range(50)]
    cprs = [CPR_A, CPR_B, *unknown, "not a cpr", CPR_B]
    with statements(intake) as seen:
        response = await intake.post(PATH, json={"cprs": cprs}, headers=EVERYWHERE)
    assert response.status_code == 200, response.text
    reads = [s for s in seen if re.search(r"\bFROM\s+\"?(\w+\"?\.\"?)?participants\b", s)]
    writes = [s for s in seen if "INSERT INTO" in s and "cpr_audit" in s]
    assert len(reads) == 1 and len(writes) == 1, seen

    rows = await audit_rows(intake)
    # Per distinct valid CPR: a row per participation found, or one without a participant.
    assert sorted((r.participant_id or "") for r in rows) == sorted(
        [ids[f"{CPR_A}@{PROGRAMME}"], ids[f"{CPR_A}@{OTHER_PROGRAMME}"], ids[f"{CPR_B}@{PROGRAMME}"]]
        + [""] * len(unknown)
    )
    assert {(r.actor, r.role, r.action) for r in rows} == {("jobcenter-national", "jobcenter", "lookup")}
    assert all(r.correlation_id for r in rows)


async def test_the_limit_is_10000_cprs_and_a_larger_or_empty_batch_is_a_422_naming_cprs(
    intake: ServiceClient,
) -> None:
    await setup(intake)
    born = date(1940, 1, 1)
    full = [f"{born + timedelta(days=n // 5):%d%m%y}{n % 5 + 1000:04d}" for n in range(10_000)]
    assert len(set(full)) == 10_000
    response = await intake.post(PATH, json={"cprs": full}, headers=JOBCENTER)
    assert response.status_code == 200, response.text
    assert len(response.json()["items"]) == 10_000
    async with intake.app.state.database.sessionmaker() as session:
        audited = await session.scalar(
            select(func.count()).select_from(CprAuditRow).where(CprAuditRow.endpoint == f"POST {PATH}")
        )
    assert audited == 10_000

    bodies: list[dict[str, Any]] = [{"cprs": [*full, CPR_A]}, {"cprs": []}, {}]
    for body in bodies:
        refused = await intake.post(PATH, json=body, headers=JOBCENTER)
        assert refused.status_code == 422, refused.text
        assert refused.headers["content-type"] == "application/problem+json"
        assert [e["field"] for e in refused.json()["errors"]] == ["cprs"]
        assert not shows_a_cpr(refused.text, CPR_A, full[0], full[-1])
    assert len(await audit_rows(intake)) == 10_000  # nothing looked up for a refused batch


@pytest.mark.parametrize("role", [Role.provider, Role.admin, Role.investor, Role.integrator])
async def test_only_the_jobcenter_may_look_up(intake: ServiceClient, role: Role) -> None:
    await setup(intake)
    response = await intake.post(PATH, json={"cprs": [CPR_A]}, headers=auth(role, PROGRAMME))
    assert response.status_code == 403
    assert not shows_a_cpr(response.text, CPR_A)
    assert await audit_rows(intake) == []


async def test_no_cpr_reaches_the_log_or_an_error(
    intake: ServiceClient, caplog: pytest.LogCaptureFixture
) -> None:
    await setup(intake)
    caplog.set_level(logging.DEBUG)
    texts = [
        (
            await intake.post(PATH, json={"cprs": [CPR_A, "3102901234", "0101901234x"]}, headers=JOBCENTER)
        ).text,
        (await intake.post(PATH, json={"cprs": [CPR_A, 101901234]}, headers=JOBCENTER)).text,
        (await intake.post(PATH, json={"cprs": [CPR_A], "cpr": CPR_B}, headers=JOBCENTER)).text,
        (await intake.post(PATH, json={"cprs": [CPR_A]}, headers=auth(Role.provider, PROGRAMME))).text,
    ]
    assert "participants_looked_up" in caplog.text
    for text in [*texts, caplog.text]:
        assert not shows_a_cpr(text, CPR_A, CPR_B, "3102901234")
        assert "101901234" not in text
