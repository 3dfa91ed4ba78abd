"""The API fuzzer (schemathesis) against every service of a real stack: intake, progression and
settlement in-process, each with its own database, on one real nats-server, a seeded programme with an
enrolled participant, a status record and an issued statement. Each service is fuzzed with a token of
every role, scoped to the seeded programme, through the coverage, fuzzing and stateful phases (the
stateful phase follows the OpenAPI links from a create to the reads of what it made).

A run fails on any 5xx, any answer that does not match the document (status code, content type, body
schema) and any problem+json holding a CPR-shaped number. The default run is small and deterministic
(a fixed seed, derandomized generation) so each run repeats it exactly; it is the suite's longest test,
so it is marked ``slow`` (``make test-slow``, ``make test-all``) and ``make test`` runs a shorter one
(``SMOKE``: four roles, fewer cases, every route); ``make test-fuzz`` runs the larger one
(marker ``fuzz_long``). Each run records how many cases it sent per service and role and how long it
took; tests/conftest.py prints that at the end of the session (lines starting ``api-fuzz``).
"""

from __future__ import annotations

import json
import re
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
import schemathesis
from fastapi import FastAPI
from schemathesis.engine import events, from_schema
from schemathesis.python import asgi

from libs.common.auth import Role
from libs.common.cpr import holds_cpr_shape
from libs.common.errors import PROBLEM_CONTENT_TYPE
from libs.simulator.jobcenter import seed_parties
from services.intake.main import create_app as create_intake_app
from services.intake.settings import IntakeSettings
from services.progression.main import create_app as create_progression_app
from services.progression.settings import ProgressionSettings
from services.settlement.main import create_app as create_settlement_app
from services.settlement.settings import SettlementSettings
from tests.integration.conftest import SEED, Later, auth, progression_database
from tests.pg_roles import beside

PROGRAMME = SEED["programme_id"]
CPR = "0101901234"  # a real date; the seeded participant's
# CPR-shaped values the fuzzer puts in CPR fields half the time: the seeded participant's, another valid
# one with a hyphen, and one whose date does not exist (refused: the problem must not quote it).
CPRS = [CPR, "150390-2345", "3102901234"]
SERVICES = ("intake", "progression", "settlement")
ROLES = tuple(Role)
SEED_NUMBER = 25  # the fuzzer's seed: CI sends the same cases every run


@dataclass(frozen=True)
class Budget:
    """How much the fuzzer does per service and role."""

    max_examples: int  # per operation in the fuzzing phase
    stateful_max_steps: int
    stateful_examples: int
    # Roles whose coverage phase sends the negative cases too (every field's boundaries and wrong types).
    # A role a route refuses is answered 403 before the body is read, so those cases would test nothing
    # more for it than the valid ones do; the roles that may call most routes get them.
    deep_roles: frozenset[Role]
    roles: tuple[Role, ...] = ROLES  # the tokens each service is fuzzed with


DEFAULT = Budget(
    max_examples=4,
    stateful_max_steps=4,
    stateful_examples=4,
    deep_roles=frozenset({Role.jobcenter, Role.admin}),
)
# The run kept in make test (so CI fuzzes every route on every change): the person roles that may call
# the most routes, and finance, with fewer cases; the others are answered 403 before a body is read.
SMOKE = Budget(
    max_examples=2,
    stateful_max_steps=3,
    stateful_examples=2,
    deep_roles=frozenset({Role.jobcenter}),
    roles=(Role.jobcenter, Role.provider, Role.finance, Role.admin),
)
LONG = Budget(max_examples=50, stateful_max_steps=10, stateful_examples=30, deep_roles=frozenset(Role))


_UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}", re.IGNORECASE)


@schemathesis.check
def problem_echoes_no_cpr(ctx: schemathesis.CheckContext, response: schemathesis.Response, case: Any) -> None:
    """A problem+json never holds a CPR-shaped number: an error names the field, never echoes the value
    (a CPR sent in the wrong field, path or header would otherwise come back, and be logged on the way),
    nor quotes a stored one. The correlation id and UUIDs are left out: random hex, which now and then
    holds ten digits in a row by chance (the middleware refuses a CPR-shaped correlation id)."""
    if not response.headers.get("content-type", [""])[0].startswith(PROBLEM_CONTENT_TYPE):
        return
    try:
        body = response.json()
    except ValueError:
        body = response.text
    if isinstance(body, dict):
        body.pop("correlation_id", None)
    text = _UUID.sub("<uuid>", body if isinstance(body, str) else json.dumps(body, ensure_ascii=False))
    if holds_cpr_shape(text):
        raise AssertionError(
            f"The problem+json ({response.status_code}) holds a CPR-shaped number: {text[:300]}"
        )


@dataclass
class Stack:
    apps: dict[str, FastAPI]
    known: dict[str, list[str]] = field(default_factory=dict)


def _asgi(app: FastAPI) -> Any:
    """The app as schemathesis's ASGI client types it (a narrower signature than Starlette's)."""
    return app


def _request(app: FastAPI, method: str, path: str, role: Role, json: Any = None) -> Any:
    with asgi.get_client(_asgi(app)) as client:
        return client.request(method, path, json=json, headers=auth(role, PROGRAMME))


def _until(answer: Any, expected: int, what: str, timeout: float = 20.0) -> Any:
    """Repeats ``answer()`` until it answers ``expected`` (events take a moment to reach a service)."""
    deadline = time.monotonic() + timeout
    while True:
        response = answer()
        if response.status_code == expected:
            return response
        if time.monotonic() > deadline:
            raise AssertionError(f"{what}: {response.status_code} {response.text[:300]}")
        time.sleep(0.1)


def _seed(apps: dict[str, FastAPI]) -> dict[str, list[str]]:
    """A programme with its parties, an enrolled participant with a status record, a data cut-off and an issued statement,
    so the fuzzer's ids can name real objects in every service."""
    intake, progression, settlement = apps["intake"], apps["progression"], apps["settlement"]
    assert _request(intake, "POST", "/v1/programmes", Role.admin, SEED).status_code == 201
    parties = _request(intake, "POST", f"/v1/programmes/{PROGRAMME}/parties", Role.admin, seed_parties())
    assert parties.status_code == 201, parties.text
    referral = {"programme_id": PROGRAMME, "cpr": CPR, "track": "sygedagpenge", "referred_on": "2024-03-01"}
    participant = _request(intake, "POST", "/v1/participants", Role.jobcenter, referral).json()[
        "participant_id"
    ]
    enrolment = {"enrolled_on": "2024-03-15", "consent_given_on": "2024-03-10"}
    enrolled = _request(
        intake, "POST", f"/v1/participants/{participant}/enrolment", Role.jobcenter, enrolment
    )
    assert enrolled.status_code == 200, enrolled.text
    record = {"participant_id": participant, "code": "sygedagpenge", "valid_from": "2024-03-15"}
    _until(lambda: _request(progression, "POST", "/v1/status-records", Role.jobcenter, record), 201, "status")
    cutoff = {"complete_through": "2024-04-30"}
    _until(
        lambda: _request(
            progression, "PUT", f"/v1/programmes/{PROGRAMME}/data-cutoff", Role.jobcenter, cutoff
        ),
        200,
        "cut-off",
    )
    prepare = f"/v1/programmes/{PROGRAMME}/statements"
    draft = _until(
        lambda: _request(settlement, "POST", prepare, Role.jobcenter, {"period": "2024-04"}), 201, "draft"
    ).json()
    approval = f"/v1/statements/drafts/{draft['draft_id']}/approval"
    statement = _until(
        lambda: _request(settlement, "POST", approval, Role.finance, {"sha256": draft["sha256"]}),
        201,
        "approval",
    ).json()["statement_id"]
    # An open draft too, for the fuzzed draft routes to read, discard or approve.
    opened = _request(settlement, "POST", prepare, Role.jobcenter, {"period": "2024-05"}).json()
    return {
        "programmes": [PROGRAMME],
        "participants": [participant],
        "statements": [statement],
        "drafts": [opened["draft_id"], statement],
    }


@pytest.fixture
def stack(nats_url: str, database: dict[str, Any]) -> Iterator[Stack]:
    """The three services on schemathesis's own event loop (a thread of its ASGI client), where their
    lifespans (relay, consumers) run too; progression reaches intake in-process on that loop."""
    quiet: dict[str, Any] = {"sib_env": "test", "nats_url": nats_url, "log_level": "WARNING"}
    intake_later = Later()  # intake's access export reaches the other two in-process, as they reach it
    progression = create_progression_app(
        ProgressionSettings(**quiet, **progression_database(database)),
        intake_transport=httpx.ASGITransport(app=intake_later),
    )
    settlement = create_settlement_app(SettlementSettings(**quiet, **beside(database, "_s")))
    intake = create_intake_app(
        IntakeSettings(**quiet, **database),
        peer_transports={
            "progression": httpx.ASGITransport(app=progression),
            "settlement": httpx.ASGITransport(app=settlement),
        },
    )
    intake_later.app = intake
    apps = {"intake": intake, "progression": progression, "settlement": settlement}
    try:
        for app in apps.values():
            with asgi.get_client(_asgi(app)):  # starts the lifespan, which stays up until shut down below
                pass
        yield Stack(apps, _seed(apps))
    finally:
        asgi.shutdown_lifespans()


# The checks a run applies: the answer's status, content type and body as documented, no 5xx, and the
# custom check above. Those that judge the API's semantics by guesses about ids and methods are off.
CHECKS_OFF = (
    "positive_data_acceptance",
    "negative_data_rejection",
    "ignored_auth",
    "use_after_free",
    "ensure_resource_availability",
    "missing_required_header",
    "unsupported_method",
    "allow_header_conformance",
    "response_headers_conformance",
)


def _config(role: Role, budget: Budget, known: dict[str, list[str]]) -> schemathesis.Config:
    generation = {"max-examples": budget.max_examples, "deterministic": True, "database": "none"}
    return schemathesis.Config.from_dict(
        {
            "seed": SEED_NUMBER,
            "workers": 1,
            "cache": {"enabled": False},  # nothing learned from an earlier run: the same cases every run
            "headers": auth(role, PROGRAMME),
            "generation": generation,
            # Real ids most of the time, so cases reach the objects behind them; any string otherwise.
            "dictionaries": {name: {"values": values} for name, values in (known | {"cprs": CPRS}).items()},
            "parameters": {
                "path.programme_id": {"dictionary": "programmes", "probability": 0.8},
                "path.participant_id": {"dictionary": "participants", "probability": 0.6},
                "path.statement_id": {"dictionary": "statements", "probability": 0.6},
                "path.draft_id": {"dictionary": "drafts", "probability": 0.6},
                "body.cpr": {"dictionary": "cprs", "probability": 0.5},
                "body.cprs[*]": {"dictionary": "cprs", "probability": 0.5},
            },
            "checks": {name: {"enabled": False} for name in CHECKS_OFF},
            "phases": {
                "examples": {"enabled": False},
                "coverage": {
                    "enabled": True,
                    "generation": {"mode": "all" if role in budget.deep_roles else "positive"},
                },
                "fuzzing": {"enabled": True},
                "stateful": {
                    "enabled": True,
                    "max-steps": budget.stateful_max_steps,
                    "generation": generation | {"max-examples": budget.stateful_examples},
                },
            },
        }
    )


@dataclass
class Outcome:
    cases: Counter[str] = field(default_factory=Counter)  # per phase
    failures: dict[tuple[str, str, str], str] = field(default_factory=dict)  # (operation, check, title)
    errors: list[str] = field(default_factory=list)
    seconds: float = 0.0


def fuzz(app: FastAPI, role: Role, budget: Budget, known: dict[str, list[str]]) -> Outcome:
    schema = schemathesis.openapi.from_asgi("/openapi.json", app, config=_config(role, budget, known))
    outcome = Outcome()
    started = time.perf_counter()
    for event in from_schema(schema).execute():
        if isinstance(event, events.ScenarioFinished):
            outcome.cases[str(event.phase.value)] += len(event.recorder.cases)
            for nodes in event.recorder.checks.values():
                for node in nodes:
                    if node.failure_info is not None:
                        failure = node.failure_info.failure
                        key = (event.recorder.label, node.name, failure.title)
                        outcome.failures.setdefault(
                            key, f"{failure.message}\n{node.failure_info.code_sample}"
                        )
        elif isinstance(event, events.NonFatalError):
            outcome.errors.append(f"{event.label}: {event.info.title}: {event.info.message}")
        elif isinstance(event, events.FatalError):
            outcome.errors.append(f"fatal: {event.exception!r}")
    outcome.seconds = time.perf_counter() - started
    return outcome


def run_fuzzer(stack: Stack, budget: Budget, request: pytest.FixtureRequest) -> None:
    database = request.node.callspec.params["database"]
    failures: list[str] = []
    total_cases, started = 0, time.perf_counter()
    lines = []
    for service in SERVICES:
        for role in budget.roles:
            outcome = fuzz(stack.apps[service], role, budget, stack.known)
            cases = sum(outcome.cases.values())
            total_cases += cases
            phases = ", ".join(f"{phase} {count}" for phase, count in sorted(outcome.cases.items()))
            lines.append(
                f"api-fuzz[{database}] {service:<11} {role.value:<19} {cases:>5} cases ({phases}) "
                f"in {outcome.seconds:.1f} s"
            )
            for (operation, check, title), detail in outcome.failures.items():
                failures.append(f"{service} as {role.value}: {operation}: {check}: {title}\n{detail}")
            failures += [f"{service} as {role.value}: {error}" for error in outcome.errors]
    lines.append(
        f"api-fuzz[{database}] total: {total_cases} cases, 3 services x {len(budget.roles)} roles, "
        f"in {time.perf_counter() - started:.1f} s"
    )
    for line in lines:
        request.node.user_properties.append(("api-fuzz", line))
        print(line)
    assert not failures, f"{len(failures)} fuzzer findings:\n\n" + "\n\n".join(failures)


# The default run on PostgreSQL, the production database, whose text and number handling is the stricter
# one; the long run on both.
# The suite's longest test, so slow (docs/testing.md#slow-tests).
@pytest.mark.slow
@pytest.mark.parametrize("database", [pytest.param("postgresql", marks=pytest.mark.postgres)], indirect=True)
def test_every_service_answers_every_role_as_documented_under_the_fuzzer(
    stack: Stack, request: pytest.FixtureRequest
) -> None:
    run_fuzzer(stack, DEFAULT, request)


@pytest.mark.parametrize("database", [pytest.param("postgresql", marks=pytest.mark.postgres)], indirect=True)
def test_every_route_answers_the_busiest_roles_as_documented_under_a_short_fuzz(
    stack: Stack, request: pytest.FixtureRequest
) -> None:
    run_fuzzer(stack, SMOKE, request)


@pytest.mark.fuzz_long
def test_every_service_answers_every_role_as_documented_under_a_long_fuzz(
    stack: Stack, request: pytest.FixtureRequest
) -> None:
    run_fuzzer(stack, LONG, request)
