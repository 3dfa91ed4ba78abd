"""Intake's programme routes in-process, with a real database and a real nats-server."""

from __future__ import annotations

import copy
from typing import Any

import httpx
import pytest
from sqlalchemy import update

from libs.common.auth import Role
from libs.common.contracts import DEFAULT_LEGAL_BASIS
from services.intake.models import ProgrammeTermsRow
from tests.integration.conftest import SEED, auth, outbox_events


async def test_admin_creates_a_programme_and_its_terms_are_announced(intake: httpx.AsyncClient) -> None:
    response = await intake.post("/v1/programmes", json=SEED, headers=auth(Role.admin))
    assert response.status_code == 201, response.text
    body = response.json()
    assert body["programme_id"] == "hedensted-2022"
    assert body["current"]["version"] == 1
    assert body["current"]["terms"]["tracks"] == {"sygedagpenge": 120, "jobafklaring": 30}
    assert body["current"]["terms"]["total_cap_dkk"] == "5600000.00"

    [event] = await outbox_events(intake)
    assert event.type == "dk.sib.intake.programme.terms_published.v1"
    assert event.subject == "programme/hedensted-2022"
    assert event.data["terms"] == body["current"]["terms"]
    assert event.correlationid == response.headers["X-Correlation-ID"]


async def test_repeating_the_same_creation_returns_the_programme_without_a_second_event(
    intake: httpx.AsyncClient,
) -> None:
    first = await intake.post("/v1/programmes", json=SEED, headers=auth(Role.admin))
    again = await intake.post("/v1/programmes", json=SEED, headers=auth(Role.admin))
    assert (first.status_code, again.status_code) == (201, 200)
    assert again.json() == first.json()
    assert len(await outbox_events(intake)) == 1


async def test_the_same_id_with_other_terms_is_a_conflict_naming_the_programme(
    intake: httpx.AsyncClient,
) -> None:
    await intake.post("/v1/programmes", json=SEED, headers=auth(Role.admin))
    changed = copy.deepcopy(SEED)
    changed["terms"]["fee_per_month_dkk"] = "4000"
    response = await intake.post("/v1/programmes", json=changed, headers=auth(Role.admin))
    assert response.status_code == 409
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["programme_id"] == "hedensted-2022"
    assert len(await outbox_events(intake)) == 1


@pytest.mark.parametrize(
    ("change", "field"),
    [
        (lambda b: b["terms"]["split"].update(investor_percent="70"), "terms.split"),
        (
            lambda b: b["terms"]["track_fee_per_month_dkk"].update(ukendt="100"),
            "terms.track_fee_per_month_dkk",
        ),
        (
            lambda b: b["terms"]["status_categories"].update(lotto="self_supporting"),
            "terms.status_categories.lotto",
        ),
        (lambda b: b["terms"].update(month_rule="whenever"), "terms.month_rule"),
        (lambda b: b["terms"].update(fee_per_month_dkk="-1"), "terms.fee_per_month_dkk"),
        (lambda b: b["terms"].update(follow_up_months=0), "terms.follow_up_months"),
        (lambda b: b.update(programme_id="Not A Slug"), "programme_id"),
        (lambda b: b["terms"].pop("total_cap_dkk"), "terms.total_cap_dkk"),
        (lambda b: b["terms"].update(retention_years=0), "terms.retention_years"),
        (lambda b: b["terms"].update(retention_years=31), "terms.retention_years"),
        (lambda b: b["terms"].update(legal_basis=" "), "terms.legal_basis"),
    ],
)
async def test_invalid_terms_get_a_422_naming_the_field_and_write_nothing(
    intake: httpx.AsyncClient, change: Any, field: str
) -> None:
    body = copy.deepcopy(SEED)
    body["terms"].setdefault("track_fee_per_month_dkk", {})
    change(body)
    response = await intake.post("/v1/programmes", json=body, headers=auth(Role.admin))
    assert response.status_code == 422, response.text
    assert response.headers["content-type"] == "application/problem+json"
    problem = response.json()
    assert problem["status"] == 422
    assert field in [error["field"] for error in problem["errors"]]
    assert await outbox_events(intake) == []


@pytest.mark.parametrize("path", ["/v1/programmes", "/v1/programmes/hedensted-2022/terms"])
async def test_a_legal_basis_naming_a_cpr_number_is_a_422_that_does_not_echo_it(
    intake: httpx.AsyncClient, path: str
) -> None:
    assert (await intake.post("/v1/programmes", json=SEED, headers=auth(Role.admin))).status_code == 201
    terms = copy.deepcopy(SEED["terms"]) | {"legal_basis": "GDPR art. 9(2)(b); borger 070761-4285"}
    body = (
        {"effective_from": "2030-01-01", "terms": terms}
        if path.endswith("/terms")
        else SEED | {"terms": terms}
    )
    response = await intake.post(path, json=body, headers=auth(Role.admin))
    assert response.status_code == 422, response.text
    assert [error["field"] for error in response.json()["errors"]] == ["terms.legal_basis"]
    assert "070761" not in response.text and "4285" not in response.text
    assert len(await outbox_events(intake)) == 1  # the creation's, nothing more


async def test_malformed_json_is_a_problem_not_a_500(intake: httpx.AsyncClient) -> None:
    response = await intake.post(
        "/v1/programmes",
        content=b"{not json",
        headers=auth(Role.admin) | {"content-type": "application/json"},
    )
    assert response.status_code == 422
    assert response.headers["content-type"] == "application/problem+json"


@pytest.mark.parametrize("role", [Role.jobcenter, Role.provider, Role.investor, Role.integrator])
async def test_only_admin_creates_programmes(intake: httpx.AsyncClient, role: Role) -> None:
    response = await intake.post("/v1/programmes", json=SEED, headers=auth(role))
    assert response.status_code == 403
    assert response.json()["type"] == "urn:sib:problem:forbidden"


async def test_no_token_or_a_forged_token_is_401(intake: httpx.AsyncClient) -> None:
    assert (await intake.get("/v1/programmes")).status_code == 401
    forged = {"Authorization": "Bearer " + auth(Role.admin)["Authorization"].split()[1][:-4] + "AAAA"}
    response = await intake.get("/v1/programmes", headers=forged)
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"].startswith("Bearer")


async def test_programmes_are_visible_only_within_the_token_scope(intake: httpx.AsyncClient) -> None:
    await intake.post("/v1/programmes", json=SEED, headers=auth(Role.admin))
    other = copy.deepcopy(SEED) | {"programme_id": "aarhus-2025"}
    await intake.post("/v1/programmes", json=other, headers=auth(Role.admin))

    scoped = auth(Role.provider, "aarhus-2025")
    listed = await intake.get("/v1/programmes", headers=scoped)
    assert [p["programme_id"] for p in listed.json()["items"]] == ["aarhus-2025"]
    assert (await intake.get("/v1/programmes/hedensted-2022", headers=scoped)).status_code == 404
    assert (await intake.get("/v1/programmes/aarhus-2025", headers=scoped)).status_code == 200
    everything = await intake.get("/v1/programmes", headers=auth(Role.admin))
    assert len(everything.json()["items"]) == 2


async def test_unknown_route_is_a_problem(intake: httpx.AsyncClient) -> None:
    response = await intake.get("/v1/nothing-here")
    assert response.status_code == 404
    assert response.headers["content-type"] == "application/problem+json"


async def test_a_body_over_the_limit_is_a_413_problem_read_or_streamed(nats_url: str, tmp_path: Any) -> None:
    from collections.abc import AsyncIterator

    from services.intake.main import create_app
    from services.intake.settings import IntakeSettings

    app = create_app(IntakeSettings(sib_env="test", nats_url=nats_url, var_dir=tmp_path, max_body_bytes=2048))

    async def streamed() -> AsyncIterator[bytes]:
        for _ in range(10):
            yield b" " * 1000

    async with app.router.lifespan_context(app):
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://intake"
        ) as client:
            declared = await client.post("/v1/programmes", content=b" " * 5000, headers=auth(Role.admin))
            chunked = await client.post("/v1/programmes", content=streamed(), headers=auth(Role.admin))
            small = await client.post("/v1/programmes", json=SEED, headers=auth(Role.admin))
    for response in (declared, chunked):
        assert response.status_code == 413
        assert response.headers["content-type"] == "application/problem+json"
        assert response.json()["type"] == "urn:sib:problem:payload-too-large"
    assert small.status_code == 201


async def test_terms_stored_before_the_invoice_terms_read_with_their_defaults_and_a_retry_stays_a_retry(
    intake: httpx.AsyncClient,
) -> None:
    assert (await intake.post("/v1/programmes", json=SEED, headers=auth(Role.admin))).status_code == 201
    # The row as intake wrote it before dispute_window_days, payment_terms_days, vat, retention_years and
    # legal_basis existed.
    database = intake.app.state.database  # type: ignore[attr-defined]
    old_terms = {
        key: value
        for key, value in (
            await intake.get(f"/v1/programmes/{SEED['programme_id']}", headers=auth(Role.admin))
        )
        .json()["current"]["terms"]
        .items()
        if key not in ("dispute_window_days", "payment_terms_days", "vat", "retention_years", "legal_basis")
    }
    async with database.sessionmaker() as session:
        await session.execute(update(ProgrammeTermsRow).values(terms=old_terms))
        await session.commit()
    read = (await intake.get(f"/v1/programmes/{SEED['programme_id']}", headers=auth(Role.admin))).json()
    terms = read["current"]["terms"]
    assert (terms["dispute_window_days"], terms["payment_terms_days"]) == (30, 30)
    assert (terms["retention_years"], terms["legal_basis"]) == (5, DEFAULT_LEGAL_BASIS)
    assert terms["vat"]["category"] == "E" and terms["vat"]["exemption_reason_code"] == "VATEX-EU-132-1G"
    again = await intake.post("/v1/programmes", json=SEED, headers=auth(Role.admin))
    assert again.status_code == 200, again.text
    assert len(await outbox_events(intake)) == 1
