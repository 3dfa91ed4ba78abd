"""The services' own identities, as the issuer grants them (client credentials at its token endpoint),
and the token policy over HTTP: each service may make exactly the calls the architecture has and
nothing a person could not do; a token the policy refuses is a 401 at every service."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import ec

from libs.common.auth import Role
from libs.common.clock import utcnow
from libs.common.oidc import OidcProvider, ServiceIdentity
from services.progression.settings import ProgressionSettings
from services.settlement.settings import SettlementSettings
from tests.conftest import issuer_for_tests
from tests.integration.conftest import Pair, auth
from tests.integration.test_progression import CPR, PROGRAMME, enrolled_participant


async def service_token(settings: Any) -> dict[str, str]:
    """The service's token from the issuer's token endpoint, as the service itself gets it."""
    provider = OidcProvider(settings)
    try:
        return await ServiceIdentity(provider).headers()
    finally:
        await provider.close()


async def test_progression_reads_a_participant_without_its_cpr_and_nothing_else(pair: Pair) -> None:
    pid = await enrolled_participant(pair)
    progression = await service_token(ProgressionSettings())
    read = await pair.intake.get(f"/v1/participants/{pid}", headers=progression)
    assert read.status_code == 200, read.text
    assert read.json()["cpr"] is None and CPR not in read.text and CPR.replace("-", "") not in read.text
    batch = await pair.intake.post(
        "/v1/participants/read-batch", json={"participant_ids": [pid]}, headers=progression
    )
    assert batch.status_code == 200, batch.text
    assert batch.json()["items"] == [read.json()]
    refused = [
        ("POST", "/v1/participants/lookup", {"cpr": CPR}),
        ("POST", "/v1/participants/lookup-batch", {"cprs": [CPR]}),
        ("GET", "/v1/participants", None),
        ("GET", "/v1/audit", None),
        ("GET", "/v1/programmes", None),
        ("GET", f"/v1/programmes/{PROGRAMME}", None),
        (
            "POST",
            "/v1/participants",
            {
                "programme_id": PROGRAMME,
                "cpr": "010190-1234",
                "track": "sygedagpenge",
                "referred_on": "2024-03-01",
            },
        ),
        ("POST", f"/v1/participants/{pid}/withdrawal", {"effective_on": "2024-06-01", "reason": "other"}),
        ("PUT", f"/v1/participants/{pid}/coach", {"coach_name": "x"}),
        ("POST", f"/v1/participants/{pid}/erasure-order", {"reason_code": "other", "reason": "x"}),
        ("GET", "/v1/erasures", None),
        ("POST", "/v1/admin/erasures/run", None),
        ("GET", "/v1/admin/dead-letters", None),
    ]
    for method, path, body in refused:
        response = await pair.intake.request(method, path, json=body, headers=progression)
        assert response.status_code == 403, (method, path, response.status_code)
        assert CPR not in response.text
    # Its token is for intake alone: progression itself does not take it.
    mine = await pair.progression.get(f"/v1/participants/{pid}/status-records", headers=progression)
    assert mine.status_code == 401


async def test_settlement_reads_status_records_and_nothing_else(pair: Pair) -> None:
    pid = await enrolled_participant(pair)
    settlement = await service_token(SettlementSettings())
    records = await pair.progression.get(f"/v1/participants/{pid}/status-records", headers=settlement)
    assert records.status_code == 200, records.text
    refused = [
        ("GET", f"/v1/participants/{pid}/timeline", None),
        ("GET", f"/v1/participants/{pid}/measurements", None),
        ("GET", f"/v1/programmes/{PROGRAMME}", None),
        ("PUT", f"/v1/programmes/{PROGRAMME}/data-cutoff", {"complete_through": "2024-05-31"}),
        (
            "POST",
            "/v1/status-records",
            {"participant_id": pid, "code": "employed", "valid_from": "2024-04-01"},
        ),
        ("POST", f"/v1/participants/{pid}/milestones", {"kind": "visitation", "on": "2024-03-20"}),
    ]
    for method, path, body in refused:
        response = await pair.progression.request(method, path, json=body, headers=settlement)
        assert response.status_code == 403, (method, path, response.status_code)
    # Meant for progression: intake refuses it outright.
    assert (await pair.intake.get(f"/v1/participants/{pid}", headers=settlement)).status_code == 401


async def test_a_settlement_identity_is_refused_on_intake_s_cpr_routes_even_with_intake_s_audience(
    pair: Pair,
) -> None:
    pid = await enrolled_participant(pair)
    # As if the provider had been configured to let settlement's client call intake too.
    token = issuer_for_tests().sign(
        role=Role.settlement_service,
        subject="sib-settlement",
        audience=["sib-intake"],
        ttl=timedelta(minutes=5),
    )
    headers = {"Authorization": f"Bearer {token}"}
    for method, path, body in [
        ("POST", "/v1/participants/lookup", {"cpr": CPR}),
        ("POST", "/v1/participants/lookup-batch", {"cprs": [CPR]}),
        ("GET", f"/v1/participants/{pid}", None),
        ("POST", "/v1/participants/read-batch", {"participant_ids": [pid]}),
    ]:
        response = await pair.intake.request(method, path, json=body, headers=headers)
        assert response.status_code == 403, (path, response.status_code)
        assert CPR not in response.text


async def test_a_provider_holding_every_programme_is_scoped_to_nothing(pair: Pair) -> None:
    """Outside its programmes a provider is told nothing exists (404, as for any programme not its own,
    so an id's existence does not leak) and lists nothing; the same token scoped to the programme reads."""
    pid = await enrolled_participant(pair)
    milestone = {"kind": "visitation", "on": "2024-03-20"}
    for scope in ((), (PROGRAMME,)):  # programmes ["*"], then the programme itself
        headers = auth(Role.provider, *scope)
        answers = [
            (await pair.intake.get(f"/v1/participants/{pid}", headers=headers)).status_code,
            (await pair.intake.get(f"/v1/programmes/{PROGRAMME}", headers=headers)).status_code,
            (await pair.progression.get(f"/v1/participants/{pid}/timeline", headers=headers)).status_code,
            (await pair.progression.get(f"/v1/participants/{pid}/milestones", headers=headers)).status_code,
            (
                await pair.progression.post(
                    f"/v1/participants/{pid}/milestones", json=milestone, headers=headers
                )
            ).status_code,
        ]
        programmes = (await pair.intake.get("/v1/programmes", headers=headers)).json()
        if scope:
            assert answers == [200, 200, 200, 200, 201], answers
            assert [p["programme_id"] for p in programmes["items"]] == [PROGRAMME]
        else:
            assert answers == [404] * 5, answers
            assert programmes["items"] == []


def _token(**changes: Any) -> str:
    issuer = issuer_for_tests()
    now = utcnow()
    claims: dict[str, Any] = {
        "iss": issuer.url,
        "sub": "someone",
        "aud": ["sib-intake", "sib-progression", "sib-settlement"],
        "iat": now,
        "exp": now + timedelta(minutes=10),
        "role": "admin",
        "programmes": ["*"],
    }
    key = changes.pop("key", issuer._key)
    kid = changes.pop("kid", issuer.kid)
    claims = {k: v for k, v in (claims | changes).items() if v is not None}
    return jwt.encode(claims, key, algorithm="ES256", headers={"kid": kid})


@pytest.mark.parametrize(
    "token",
    [
        pytest.param(
            lambda: _token(key=ec.generate_private_key(ec.SECP256R1()), kid="stranger"), id="unknown-key"
        ),
        pytest.param(lambda: _token(key=ec.generate_private_key(ec.SECP256R1())), id="forged-with-known-kid"),
        pytest.param(lambda: _token(exp=utcnow() - timedelta(minutes=5)), id="expired"),
        pytest.param(lambda: _token(iat=None), id="no-iat"),
        pytest.param(lambda: _token(exp=utcnow() + timedelta(hours=3)), id="lifetime-over-maximum"),
        pytest.param(lambda: _token(aud=["sib-settlement"]), id="another-service-s-audience"),
        pytest.param(lambda: _token(iss="https://elsewhere.example"), id="another-issuer"),
        pytest.param(
            lambda: jwt.encode(
                {"sub": "x", "role": "admin"}, "a-shared-secret-of-32-bytes-or-more!", "HS256"
            ),
            id="hs256-shared-secret",
        ),
    ],
)
async def test_a_token_the_policy_refuses_is_a_401(pair: Pair, token: Any) -> None:
    response = await pair.intake.get("/v1/programmes", headers={"Authorization": f"Bearer {token()}"})
    assert response.status_code == 401, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    good = await pair.intake.get("/v1/programmes", headers={"Authorization": f"Bearer {_token()}"})
    assert good.status_code == 200
