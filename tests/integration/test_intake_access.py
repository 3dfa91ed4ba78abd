"""Who may call what on intake (every route x every role), and where a CPR number may appear: only in
responses to the jobcenter. Never in a URL, a log line, an event or anyone else's response."""

from __future__ import annotations

import copy
import io
import logging
import re
from typing import Any

import pytest
from sqlalchemy import select

from libs.common.auth import Role
from libs.simulator.jobcenter import seed_parties
from services.intake.models import CprAuditRow, IdempotencyKeyRow
from tests.integration.conftest import (
    ADMIN_ROUTES,
    SEED,
    UNAUTHENTICATED_ROUTES,
    ServiceClient,
    auth,
    outbox_events,
)

PROGRAMME = "hedensted-2022"
CPR = "070761-4285"
CPR_DIGITS = "0707614285"

J, P, INV, G, A = Role.jobcenter, Role.provider, Role.investor, Role.integrator, Role.admin
AU = Role.auditor
OPEN = frozenset({J, P, INV, G, A, AU, Role.finance})

# (method, path template) -> roles that get through (everyone else: 403). Every route must be here.
MATRIX: dict[tuple[str, str], frozenset[Role]] = {
    ("POST", "/v1/programmes"): frozenset({A}),
    ("GET", "/v1/programmes"): OPEN,
    ("GET", "/v1/programmes/{programme_id}"): OPEN,
    ("POST", "/v1/programmes/{programme_id}/terms"): frozenset({A}),
    ("POST", "/v1/programmes/{programme_id}/parties"): frozenset({J, A}),
    ("GET", "/v1/programmes/{programme_id}/parties"): frozenset({J, P, INV, A, Role.finance, AU}),
    ("POST", "/v1/participants"): frozenset({J}),
    ("POST", "/v1/participants/lookup"): frozenset({J}),
    ("POST", "/v1/participants/lookup-batch"): frozenset({J}),
    ("POST", "/v1/participants/read-batch"): frozenset({J, P, A, Role.progression_service}),
    ("POST", "/v1/participants/{participant_id}/enrolment"): frozenset({J}),
    ("POST", "/v1/participants/{participant_id}/withdrawal"): frozenset({J}),
    ("PUT", "/v1/participants/{participant_id}/coach"): frozenset({J, P}),
    # After the withdrawal above: a withdrawn participant may be ordered erased.
    ("POST", "/v1/participants/{participant_id}/erasure-order"): frozenset({J}),
    ("GET", "/v1/erasures"): frozenset({J, A, AU}),
    ("POST", "/v1/admin/erasures/run"): frozenset({A}),
    ("GET", "/v1/participants"): frozenset({J, P, A, AU}),
    ("GET", "/v1/participants/{participant_id}"): frozenset({J, P, A, Role.progression_service, AU}),
    ("GET", "/v1/audit"): frozenset({J, AU, A}),
    ("POST", "/v1/admin/rotate-keys"): frozenset({A}),
    ("POST", "/v1/programmes/{programme_id}/access-exports"): frozenset({J}),
}
MATRIX |= ADMIN_ROUTES
# Its peers, progression and settlement, do not run beside intake alone: the jobcenter gets through to
# the 503 that says so (test_access_export.py runs all three).
NEEDS_PEERS = ("POST", "/v1/programmes/{programme_id}/access-exports")
UNAUTHENTICATED = UNAUTHENTICATED_ROUTES


def bodies(participant_id: str) -> dict[tuple[str, str], Any]:
    terms = copy.deepcopy(SEED["terms"])
    return {
        ("POST", "/v1/programmes"): copy.deepcopy(SEED) | {"programme_id": "matrix-2026"},
        ("POST", "/v1/programmes/{programme_id}/terms"): {"effective_from": "2030-01-01", "terms": terms},
        ("POST", "/v1/programmes/{programme_id}/parties"): seed_parties(),
        ("POST", "/v1/participants"): {
            "programme_id": PROGRAMME,
            "cpr": "0101901234",
            "track": "sygedagpenge",
            "referred_on": "2024-03-01",
        },
        ("POST", "/v1/participants/lookup"): {"cpr": CPR},
        ("POST", "/v1/participants/lookup-batch"): {"cprs": [CPR, "0101901234"]},
        ("POST", "/v1/participants/read-batch"): {"participant_ids": [participant_id]},
        ("POST", "/v1/participants/{participant_id}/enrolment"): {
            "enrolled_on": "2024-03-15",
            "consent_given_on": "2024-03-10",
        },
        ("POST", "/v1/participants/{participant_id}/withdrawal"): {
            "effective_on": "2024-06-01",
            "reason": "other",
        },
        ("PUT", "/v1/participants/{participant_id}/coach"): {"coach_name": "Jonas"},
        ("POST", "/v1/participants/{participant_id}/erasure-order"): {
            "reason_code": "data_subject_request",
            "reason": "The citizen asked to be forgotten",
        },
        ("POST", "/v1/admin/rotate-keys"): {},
        NEEDS_PEERS: {"cpr": CPR},
    }


async def setup_participant(client: ServiceClient, idempotency_key: str | None = None) -> str:
    assert (await client.post("/v1/programmes", json=SEED, headers=auth(A))).status_code == 201
    key = {"Idempotency-Key": idempotency_key} if idempotency_key else {}
    response = await client.post(
        "/v1/participants",
        json={"programme_id": PROGRAMME, "cpr": CPR, "track": "sygedagpenge", "referred_on": "2024-03-01"},
        headers=auth(J, PROGRAMME) | key,
    )
    assert response.status_code == 201
    return str(response.json()["participant_id"])


async def api_routes(client: ServiceClient) -> set[tuple[str, str]]:
    openapi = (await client.get("/openapi.json")).json()
    return {(method.upper(), path) for path, operations in openapi["paths"].items() for method in operations}


async def test_the_matrix_covers_every_route(intake: ServiceClient) -> None:
    assert await api_routes(intake) == set(MATRIX) | UNAUTHENTICATED


@pytest.mark.parametrize("role", list(Role))
async def test_role_by_endpoint_matrix(intake: ServiceClient, role: Role) -> None:
    participant_id = await setup_participant(intake)
    request_bodies = bodies(participant_id)
    for (method, template), allowed in MATRIX.items():
        path = template.format(programme_id=PROGRAMME, participant_id=participant_id)
        body = request_bodies.get((method, template))
        response = await intake.request(method, path, json=body, headers=auth(role, PROGRAMME))
        if role in allowed:
            expected = 503 if (method, template) == NEEDS_PEERS else 399
            assert response.status_code <= expected, (role, method, template, response.text)
        else:
            assert response.status_code == 403, (role, method, template, response.status_code)
        anonymous = await intake.request(method, path, json=body)
        assert anonymous.status_code == 401, (method, template)


async def test_no_route_takes_a_cpr_in_its_url(intake: ServiceClient) -> None:
    openapi = (await intake.get("/openapi.json")).json()
    for path, operations in openapi["paths"].items():
        assert "cpr" not in path.lower()
        for operation in operations.values():
            for parameter in operation.get("parameters", []):
                assert "cpr" not in parameter["name"].lower(), (path, parameter["name"])


CPR_PATTERN = re.compile(r"0707614285|070761-4285")


async def test_a_cpr_number_never_leaks_through_a_whole_flow(intake: ServiceClient) -> None:
    root = logging.getLogger()
    captured = io.StringIO()
    handler = logging.StreamHandler(captured)
    handler.setFormatter(root.handlers[0].formatter)
    root.addHandler(handler)
    non_jobcenter_responses: list[str] = []
    jobcenter_responses: list[str] = []
    urls: list[str] = []
    headers_seen: list[str] = []  # every response's headers, the jobcenter's too
    try:
        participant_id = await setup_participant(intake, idempotency_key="refer-once")
        jobcenter = auth(J, PROGRAMME)
        steps: list[tuple[str, str, Any, dict[str, str]]] = [
            ("POST", "/v1/participants/lookup", {"cpr": CPR_DIGITS}, jobcenter),
            (
                "POST",
                "/v1/participants/lookup-batch",
                {"cprs": [CPR, CPR[:-1] + "x", "3102901234"]},
                jobcenter,
            ),
            (
                "POST",
                "/v1/participants",
                {"programme_id": PROGRAMME, "cpr": CPR, "track": "jobafklaring", "referred_on": "2024-03-01"},
                jobcenter,
            ),
            (
                "POST",
                f"/v1/participants/{participant_id}/enrolment",
                {"enrolled_on": "2024-03-15", "consent_given_on": "2024-03-10"},
                jobcenter,
            ),
            ("GET", f"/v1/participants/{participant_id}", None, jobcenter),
            (
                "POST",
                "/v1/participants/read-batch",
                {"participant_ids": [participant_id]},
                auth(P, PROGRAMME),
            ),
            ("GET", "/v1/participants", None, jobcenter),
            ("PUT", f"/v1/participants/{participant_id}/coach", {"coach_name": "Jonas"}, auth(P, PROGRAMME)),
            ("GET", f"/v1/participants/{participant_id}", None, auth(P, PROGRAMME)),
            ("GET", "/v1/participants", None, auth(P, PROGRAMME)),
            ("GET", "/v1/participants", None, auth(A)),
            ("GET", f"/v1/participants/{participant_id}", None, auth(INV, PROGRAMME)),
            ("GET", "/v1/audit", None, auth(A)),
            ("POST", "/v1/participants/lookup", {"cpr": CPR}, auth(P, PROGRAMME)),
            ("POST", "/v1/participants/lookup-batch", {"cprs": [CPR]}, auth(A)),
            (
                "POST",
                "/v1/participants",
                {"programme_id": PROGRAMME, "cpr": CPR[:-1] + "x", "track": "x", "referred_on": "2024-03-01"},
                jobcenter,
            ),
            (
                "POST",
                f"/v1/participants/{participant_id}/withdrawal",
                {"effective_on": "2024-06-01", "reason": "deceased"},
                jobcenter,
            ),
        ]
        for method, url, body, headers in steps:
            response = await intake.request(method, url, json=body, headers=headers)
            assert response.status_code < 500, response.text
            urls.append(str(response.request.url))
            headers_seen.append(str(response.headers.multi_items()))
            is_jobcenter = headers is jobcenter
            (jobcenter_responses if is_jobcenter else non_jobcenter_responses).append(response.text)
    finally:
        root.removeHandler(handler)

    assert any(CPR_PATTERN.search(text) for text in jobcenter_responses)  # the check can see a CPR
    logs = captured.getvalue()
    assert "participant_enrolled" in logs  # the logs were captured
    assert not CPR_PATTERN.search(logs)
    assert "0707614" not in logs
    for text in non_jobcenter_responses:
        assert not CPR_PATTERN.search(text)
    for url in urls:
        assert not CPR_PATTERN.search(url)
    assert any("x-correlation-id" in h.lower() for h in headers_seen)  # the headers were captured
    for seen in headers_seen:
        assert not CPR_PATTERN.search(seen)
    # The tables beside the participants: the idempotency keys and the CPR audit hold who and what,
    # never the number.
    database = intake.app.state.database
    async with database.sessionmaker() as session:
        keys = (await session.execute(select(IdempotencyKeyRow.__table__))).all()
        audit = (await session.execute(select(CprAuditRow.__table__))).all()
    assert [row.key for row in keys] == ["refer-once"]
    assert {row.action for row in audit} >= {"read", "write"}  # the audit saw the flow
    for row in [*keys, *audit]:
        assert not CPR_PATTERN.search(str(tuple(row))), row
    events = await outbox_events(intake)
    participant_events = {e.type for e in events if ".participant." in e.type}
    assert participant_events == {
        f"dk.sib.intake.participant.{what}.v2" for what in ("referred", "enrolled", "withdrawn")
    }
    for event in events:
        assert not CPR_PATTERN.search(event.model_dump_json())
        assert "pseudonym" not in event.model_dump_json()  # nor anything derived from the number
        assert not re.search(r"\b[0-9a-f]{64}\b", event.model_dump_json())
