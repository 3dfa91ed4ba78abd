"""Progression: a status posted before progression has heard of the participant, who may call what
(every route x every role), and CPR numbers never logged, echoed or sent on."""

from __future__ import annotations

import asyncio
import io
import logging
import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from deploy.local import free_port, start_nats
from libs.common.auth import SERVICE_ROLES, Role
from libs.common.contracts import ParticipantEnrolledV2
from libs.common.uow import UnitOfWork
from services.progression.models import ParticipantRow
from services.progression.services.participants import apply_participant_event
from tests.integration.conftest import (
    ADMIN_ROUTES,
    UNAUTHENTICATED_ROUTES,
    Pair,
    auth,
    intake_and_progression,
    outbox_events,
)
from tests.integration.test_progression import ADMIN, JOBCENTER, PROGRAMME, enrolled_participant

J, P, INV, G, A = Role.jobcenter, Role.provider, Role.investor, Role.integrator, Role.admin
S = Role.settlement_service
INTAKE = Role.intake_service
AU = Role.auditor
# Every person's role; the service identities reach only the routes that name them.
OPEN = frozenset(Role) - SERVICE_ROLES
MATRIX: dict[tuple[str, str], frozenset[Role]] = {
    ("GET", "/v1/programmes/{programme_id}"): OPEN,
    ("PUT", "/v1/programmes/{programme_id}/data-cutoff"): frozenset({J}),
    ("POST", "/v1/programmes/{programme_id}/data-cutoff/retractions"): frozenset({J}),
    ("GET", "/v1/programmes/{programme_id}/data-cutoff/history"): OPEN,
    ("GET", "/v1/status-codes"): OPEN,
    ("POST", "/v1/status-records"): frozenset({J}),
    ("POST", "/v1/status-records/batch"): frozenset({J}),
    ("GET", "/v1/participants/{participant_id}/status-records"): frozenset({J, P, A, S, AU}),
    ("GET", "/v1/participants/{participant_id}/timeline"): frozenset({J, P, A, AU}),
    ("POST", "/v1/participants/{participant_id}/measurements"): frozenset({P}),
    ("GET", "/v1/participants/{participant_id}/measurements"): frozenset({J, P, A, AU}),
    ("POST", "/v1/participants/{participant_id}/milestones"): frozenset({P}),
    ("GET", "/v1/participants/{participant_id}/milestones"): frozenset({J, P, A, AU}),
    ("GET", "/v1/programmes/{programme_id}/data-quality"): frozenset({J, P, INV, A, AU}),
    ("GET", "/v1/participants/{participant_id}/personal-data"): frozenset({INTAKE}),
}
MATRIX |= ADMIN_ROUTES
UNAUTHENTICATED = UNAUTHENTICATED_ROUTES
SCORES = dict.fromkeys(
    [
        "attendance_stability", "personal_resources", "coping", "motivation",
        "takes_responsibility", "active_participation", "open_to_change", "goal_focus",
        "self_insight", "sees_new_opportunities", "labour_market_focus", "realistic_about_future",
    ],
    5,
)  # fmt: skip


def bodies(pid: str) -> dict[tuple[str, str], Any]:
    record = {"participant_id": pid, "code": "employed", "valid_from": "2024-06-01"}
    return {
        ("PUT", "/v1/programmes/{programme_id}/data-cutoff"): {"complete_through": "2024-05-31"},
        ("POST", "/v1/programmes/{programme_id}/data-cutoff/retractions"): {
            "complete_through": "2024-04-30",
            "reason": "typed the wrong month",
        },
        ("POST", "/v1/status-records"): record,
        ("POST", "/v1/status-records/batch"): {"records": [record]},
        ("POST", "/v1/participants/{participant_id}/measurements"): {
            "measured_on": "2024-04-01",
            "scores": SCORES,
        },
        ("POST", "/v1/participants/{participant_id}/milestones"): {"kind": "visitation", "on": "2024-03-20"},
    }


async def test_the_matrix_covers_every_route(pair: Pair) -> None:
    openapi = (await pair.progression.get("/openapi.json")).json()
    routes = {(method.upper(), path) for path, ops in openapi["paths"].items() for method in ops}
    assert routes == set(MATRIX) | UNAUTHENTICATED


@pytest.mark.parametrize("role", list(Role))
async def test_role_by_endpoint_matrix(pair: Pair, role: Role) -> None:
    pid = await enrolled_participant(pair)
    request_bodies = bodies(pid)
    for (method, template), allowed in MATRIX.items():
        path = template.format(programme_id=PROGRAMME, participant_id=pid)
        body = request_bodies.get((method, template))
        response = await pair.progression.request(method, path, json=body, headers=auth(role, PROGRAMME))
        if role in allowed:
            assert response.status_code < 400, (role, method, template, response.text)
        else:
            assert response.status_code == 403, (role, method, template, response.status_code)
        assert (await pair.progression.request(method, path, json=body)).status_code == 401


@asynccontextmanager
async def progression_unaware_of_intake(tmp_path: Path, database: dict[str, Any]) -> AsyncIterator[Pair]:
    """Intake and progression on nats-servers of their own: progression never receives intake's
    events, so it can only know a participant by asking intake."""
    intake_port, progression_port = free_port(), free_port()
    intake_nats = start_nats("127.0.0.1", intake_port, tmp_path / "nats-i")
    progression_nats = start_nats("127.0.0.1", progression_port, tmp_path / "nats-p")
    try:
        async with intake_and_progression(
            f"nats://127.0.0.1:{intake_port}", f"nats://127.0.0.1:{progression_port}", database
        ) as pair:
            yield pair
    finally:
        intake_nats.stop()
        progression_nats.stop()


async def test_a_status_posted_before_progression_heard_of_the_participant_is_accepted(
    tmp_path: Path, database: dict[str, Any]
) -> None:
    # Progression on a nats-server of its own never receives intake's events: it can only know the
    # participant by asking intake, as when a post overtakes the enrolment event.
    async with progression_unaware_of_intake(tmp_path, database) as pair:
        pid = await enrolled_participant(pair, wait_for_event=False)
        by_id = await pair.progression.post(
            "/v1/status-records",
            json={"participant_id": pid, "code": "sygedagpenge", "valid_from": "2024-03-15"},
            headers=JOBCENTER,
        )
        assert by_id.status_code == 201, by_id.text
        second = await enrolled_participant(pair, cpr="0202851235", wait_for_event=False)
        by_cpr = await pair.progression.post(
            "/v1/status-records",
            json={"cpr": "020285-1235", "code": "sygedagpenge", "valid_from": "2024-03-15"},
            headers=JOBCENTER,
        )
        assert by_cpr.status_code == 201, by_cpr.text
        assert by_cpr.json()["participant_id"] == second
        # Intake's audit names the jobcenter for the lookup made on its behalf.
        trail = (await pair.intake.get("/v1/audit", headers=ADMIN)).json()["items"]
        assert ("lookup", "jobcenter-hedensted", second) in {
            (e["action"], e["actor"], e["participant_id"]) for e in trail
        }
        unknown = await pair.progression.post(
            "/v1/status-records",
            json={
                "participant_id": "00000000-0000-0000-0000-000000000000",
                "code": "employed",
                "valid_from": "2024-03-15",
            },
            headers=JOBCENTER,
        )
        assert unknown.status_code == 422


async def test_the_participant_event_consumed_while_a_post_asks_intake_leaves_one_participant(
    tmp_path: Path, database: dict[str, Any]
) -> None:
    # A post names a participant progression has not heard of, so it asks intake; meanwhile the
    # consumer takes in the participant's event in a transaction of its own. On PostgreSQL the event is
    # committed first, inside the post's read-through (the race a fault test hit as a 500); on SQLite
    # the writer's turn makes the consumer wait, so the event lands on the row the post kept.
    async with progression_unaware_of_intake(tmp_path, database) as pair:
        state = pair.progression.app.state
        directory = state.intake_directory
        consumed: list[asyncio.Task[None]] = []

        async def consume(data: dict[str, Any]) -> None:
            event = ParticipantEnrolledV2(
                participant_id=data["participant_id"],
                programme_id=data["programme_id"],
                track=data["track"],
                referred_on=date.fromisoformat(data["referred_on"]),
                enrolled_on=date(2024, 3, 15),
                consent_given_on=date(2024, 3, 10),
            )
            async with UnitOfWork(state.database) as uow:
                await apply_participant_event(uow, event)
                await uow.commit()

        def racing(read: Any, participants_in: Any) -> Any:
            async def read_and_race(*args: Any) -> Any:
                found = await read(*args)
                for data in participants_in(found):
                    consumed.append(asyncio.create_task(consume(data)))
                    if state.settings.is_postgres:
                        await asyncio.wait_for(asyncio.shield(consumed[-1]), 10)
                return found

            return read_and_race

        directory.participants = racing(directory.participants, lambda read: read)
        directory.lookup_cprs = racing(
            directory.lookup_cprs, lambda by_cpr: [data for items in by_cpr.values() for data in items]
        )
        pid = await enrolled_participant(pair, wait_for_event=False)
        by_id = await pair.progression.post(
            "/v1/status-records",
            json={"participant_id": pid, "code": "sygedagpenge", "valid_from": "2024-03-15"},
            headers=JOBCENTER,
        )
        assert by_id.status_code == 201, by_id.text
        second = await enrolled_participant(pair, cpr="0202851235", wait_for_event=False)
        by_cpr = await pair.progression.post(
            "/v1/status-records/batch",
            json={"records": [{"cpr": "020285-1235", "code": "employed", "valid_from": "2024-04-01"}]},
            headers=JOBCENTER,
        )
        assert by_cpr.status_code == 201, by_cpr.text
        await asyncio.wait_for(asyncio.gather(*consumed), 10)
        assert len(consumed) == 2
        async with state.database.sessionmaker() as session:
            rows = (
                await session.scalars(
                    select(ParticipantRow).where(ParticipantRow.participant_id.in_([pid, second]))
                )
            ).all()
        assert {(r.participant_id, r.enrolled_on, r.last_recording_seq) for r in rows} == {
            (pid, date(2024, 3, 15), 1),
            (second, date(2024, 3, 15), 1),
        }


CPR_PATTERN = re.compile(r"0707614285|070761-4285")


async def test_a_cpr_posted_to_progression_is_never_logged_echoed_or_sent_on(pair: Pair) -> None:
    root = logging.getLogger()
    captured = io.StringIO()
    handler = logging.StreamHandler(captured)
    handler.setFormatter(root.handlers[0].formatter)
    root.addHandler(handler)
    texts: list[str] = []
    try:
        pid = await enrolled_participant(pair)
        for body in (
            {"cpr": "0707614285", "code": "sygedagpenge", "valid_from": "2024-03-15"},
            {"cpr": "070761-4285", "code": "lotto", "valid_from": "2024-03-15"},
            {"cpr": "070761-4285", "code": "employed", "valid_from": "2024-03-15", "participant_id": pid},
            {"cpr": "0707614286", "code": "employed", "valid_from": "2024-03-15"},
        ):
            texts.append(
                (await pair.progression.post("/v1/status-records", json=body, headers=JOBCENTER)).text
            )
        batch = {
            "records": [
                {"cpr": "0707614285", "code": "employed", "iso_week": "2024-W30"},
                {"cpr": "3102991234", "code": "employed", "iso_week": "2024-W31"},
            ]
        }
        texts.append(
            (await pair.progression.post("/v1/status-records/batch", json=batch, headers=JOBCENTER)).text
        )
        for path in ("status-records", "timeline"):
            texts.append(
                (await pair.progression.get(f"/v1/participants/{pid}/{path}", headers=JOBCENTER)).text
            )
    finally:
        root.removeHandler(handler)
    logs = captured.getvalue()
    assert "status_records_recorded" in logs
    assert not CPR_PATTERN.search(logs) and "3102991234" not in logs
    for text in texts:
        assert not CPR_PATTERN.search(text) and "3102991234" not in text
    for event in await outbox_events(pair.progression):
        assert not CPR_PATTERN.search(event.model_dump_json())
