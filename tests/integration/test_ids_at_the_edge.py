"""Ids that must be UUIDs are parsed as UUIDs where they enter the API: a path, query or body id that
is not one is a 422 naming the field, never a 500 and never a piece of another service's URL."""

from __future__ import annotations

import httpx
import pytest

from libs.common.auth import Role
from tests.integration.conftest import Trio, auth

PROGRAMME = "hedensted-2022"
NOT_IDS = ["not-a-uuid", "1234", "x" * 36, "3f2b8c1e9d4a4c6b8e2f1a2b3c4d5e6f"]
TRAVERSAL = "../../v1/audit"


def problem_names(response: httpx.Response, field: str) -> bool:
    """A 422 saying the field must be a UUID (refused as it came in, not found missing later)."""
    return response.status_code == 422 and any(
        e["field"] == field and "must be a UUID" in e["message"] for e in response.json()["errors"]
    )


@pytest.mark.parametrize("bad", NOT_IDS)
async def test_a_path_id_that_is_no_uuid_is_a_422_naming_it(trio: Trio, bad: str) -> None:
    admin, jobcenter = auth(Role.admin), auth(Role.jobcenter, PROGRAMME)
    checks = [
        (trio.intake, "GET", f"/v1/participants/{bad}", admin, None),
        (trio.intake, "POST", f"/v1/participants/{bad}/enrolment", jobcenter, {"enrolled_on": "2024-01-02", "consent_given_on": "2024-01-02"}),
        (trio.progression, "GET", f"/v1/participants/{bad}/timeline", admin, None),
        (trio.progression, "GET", f"/v1/participants/{bad}/status-records", admin, None),
        (trio.progression, "GET", f"/v1/participants/{bad}/measurements", admin, None),
        (trio.settlement, "GET", f"/v1/participants/{bad}/months", admin, None),
        (trio.settlement, "GET", f"/v1/participants/{bad}/months/2024-05/explanation", admin, None),
    ]  # fmt: skip
    for client, method, path, headers, body in checks:
        response = await client.request(method, path, headers=headers, json=body)
        assert problem_names(response, "participant_id"), (path, response.status_code, response.text)
        assert bad not in response.json()["detail"]  # named, not echoed
    statement = await trio.settlement.get(f"/v1/statements/{bad}", headers=admin)
    assert problem_names(statement, "statement_id")
    audit = await trio.intake.get("/v1/audit", params={"participant_id": bad}, headers=admin)
    assert problem_names(audit, "participant_id")


async def test_a_body_id_that_is_no_uuid_never_reaches_intake_s_url(trio: Trio) -> None:
    jobcenter = auth(Role.jobcenter, PROGRAMME)
    batch = {"records": [{"participant_id": TRAVERSAL, "code": "employed", "valid_from": "2024-05-01"}]}
    response = await trio.progression.post("/v1/status-records/batch", json=batch, headers=jobcenter)
    assert problem_names(response, "records[0].participant_id"), response.text
    one = {"participant_id": "not-a-uuid", "code": "employed", "valid_from": "2024-05-01"}
    single = await trio.progression.post("/v1/status-records", json=one, headers=jobcenter)
    assert problem_names(single, "participant_id")
    dry_run = await trio.settlement.post(
        f"/v1/programmes/{PROGRAMME}/dry-run", json={"records": [one]}, headers=jobcenter
    )
    assert problem_names(dry_run, "records[0].participant_id")


async def test_an_upper_case_uuid_is_the_same_participant(trio: Trio) -> None:
    admin = auth(Role.admin)
    unknown = "3F2B8C1E-9D4A-4C6B-8E2F-1A2B3C4D5E6F"
    response = await trio.intake.get(f"/v1/participants/{unknown}", headers=admin)
    assert response.status_code == 404  # parsed, looked up in canonical form, not found
