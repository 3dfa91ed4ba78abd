"""Token verification against a JWKS, the token policy, and the services' own identities. The
development issuer's app answers in process (httpx's ASGI transport); nothing here opens a socket."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from jwt.algorithms import RSAAlgorithm

from libs.common.auth import ALL_PROGRAMMES, Principal, Role, TokenVerifier
from libs.common.clock import utcnow
from libs.common.devtoken import DevelopmentIssuer, ProductionRefused, dev_token, main
from libs.common.errors import ServiceUnavailable, Unauthorized
from libs.common.oidc import OidcProvider, ServiceIdentity
from libs.common.settings import CommonSettings

URL = "http://issuer.test"


class Counting(httpx.AsyncBaseTransport):
    """The issuer's app, counting the requests that reach it."""

    def __init__(self, issuer: DevelopmentIssuer) -> None:
        self.inner = httpx.ASGITransport(app=issuer.app())
        self.paths: list[str] = []

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        self.paths.append(request.url.path)
        return await self.inner.handle_async_request(request)


@pytest.fixture
def issuer(tmp_path: Path) -> DevelopmentIssuer:
    return DevelopmentIssuer.load_or_create(tmp_path / "issuer", URL, client_secret="s" * 40)


def settings(**changes: Any) -> CommonSettings:
    return CommonSettings(service_name="intake", oidc_issuer=URL, **changes)


@pytest.fixture
async def verifier(issuer: DevelopmentIssuer) -> AsyncIterator[TokenVerifier]:
    verifier = TokenVerifier(settings(), Counting(issuer))
    yield verifier
    await verifier.close()


def forge(issuer: DevelopmentIssuer, key: Any = None, kid: str | None = None, **claims: Any) -> str:
    """A token with exactly these claims over a valid base, signed by ``key`` (default: the issuer's)."""
    now = utcnow()
    base: dict[str, Any] = {
        "iss": URL,
        "sub": "someone",
        "aud": ["sib-intake"],
        "iat": now,
        "exp": now + timedelta(minutes=10),
        "role": "jobcenter",
        "programmes": ["hedensted-2022"],
    }
    body = {k: v for k, v in (base | claims).items() if v is not None}
    return jwt.encode(body, key or issuer._key, algorithm="ES256", headers={"kid": kid or issuer.kid})


@pytest.mark.parametrize("role", list(Role))
async def test_a_token_round_trips_role_and_programme_scope(
    issuer: DevelopmentIssuer, verifier: TokenVerifier, role: Role
) -> None:
    token = issuer.sign(role=role, programmes=["hedensted-2022"], subject="someone")
    assert await verifier.verify(token) == Principal("someone", role, frozenset({"hedensted-2022"}))


@pytest.mark.parametrize("role", [Role.admin, Role.progression_service, Role.settlement_service])
async def test_every_programme_is_honoured_for_admin_and_services(
    issuer: DevelopmentIssuer, verifier: TokenVerifier, role: Role
) -> None:
    principal = await verifier.verify(issuer.sign(role=role))
    assert principal.can_access("any-programme")


@pytest.mark.parametrize("role", [Role.jobcenter, Role.provider, Role.investor, Role.integrator])
async def test_every_programme_is_scoped_to_nothing_for_people(
    issuer: DevelopmentIssuer, verifier: TokenVerifier, role: Role
) -> None:
    principal = await verifier.verify(issuer.sign(role=role, programmes=[ALL_PROGRAMMES, "mine"]))
    assert principal.programmes == frozenset({"mine"})
    assert not principal.can_access("hedensted-2022")


async def test_the_token_must_come_from_the_provider_s_key(
    issuer: DevelopmentIssuer, verifier: TokenVerifier
) -> None:
    stranger = ec.generate_private_key(ec.SECP256R1())
    with pytest.raises(Unauthorized, match="key the identity provider does not publish"):
        await verifier.verify(forge(issuer, key=stranger, kid="someone-else"))
    with pytest.raises(Unauthorized, match="not valid"):  # the provider's kid, another key
        await verifier.verify(forge(issuer, key=stranger))
    shared_secret = jwt.encode({"sub": "x"}, "a-shared-secret-of-32-bytes-or-more!", algorithm="HS256")
    with pytest.raises(Unauthorized, match="accepted algorithm"):
        await verifier.verify(shared_secret)
    with pytest.raises(Unauthorized, match="accepted algorithm"):
        await verifier.verify(jwt.encode({"sub": "x"}, "", algorithm="none"))
    with pytest.raises(Unauthorized, match="not valid"):
        await verifier.verify("not-a-token")


@pytest.mark.parametrize(
    ("claims", "says"),
    [
        ({"exp": utcnow() - timedelta(minutes=5)}, "expired"),
        ({"iat": None}, "not valid"),
        ({"exp": None}, "not valid"),
        ({"sub": None}, "not valid"),
        ({"aud": ["sib-progression"]}, r"not meant for this service \(aud\)"),
        ({"aud": None}, "not valid"),
        ({"iss": "https://elsewhere"}, "not valid"),
        ({"exp": utcnow() + timedelta(hours=2)}, "lifetime is longer"),
        (
            {"iat": utcnow() + timedelta(hours=1), "exp": utcnow() + timedelta(hours=1, minutes=5)},
            "not valid",
        ),
        ({"role": "superuser"}, "exactly one known role"),
        ({"role": None}, "exactly one known role"),
        ({"programmes": "hedensted-2022"}, "programmes claim must be a list"),
    ],
)
async def test_the_policy_refuses(
    issuer: DevelopmentIssuer, verifier: TokenVerifier, claims: dict[str, Any], says: str
) -> None:
    with pytest.raises(Unauthorized, match=says):
        await verifier.verify(forge(issuer, **claims))


async def test_an_rsa_signing_provider_is_verified_once_rs256_is_accepted() -> None:
    """Entra ID signs its access tokens with RS256; the default accepts only ES256 and EdDSA."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    jwk = RSAAlgorithm.to_jwk(key.public_key(), as_dict=True)
    assert isinstance(jwk, dict)
    published = jwk | {"kid": "rsa-1", "alg": "RS256"}
    transport = httpx.MockTransport(lambda request: httpx.Response(200, json={"keys": [published]}))
    now = utcnow()
    claims = {
        "iss": URL,
        "sub": "someone",
        "aud": "sib-intake",
        "iat": now,
        "exp": now + timedelta(minutes=5),
    }
    token = jwt.encode(
        claims | {"role": "jobcenter", "programmes": ["p"]}, key, algorithm="RS256", headers={"kid": "rsa-1"}
    )
    default = TokenVerifier(settings(jwks_url=f"{URL}/keys"), transport)
    with pytest.raises(Unauthorized, match="accepted algorithm"):
        await default.verify(token)
    entra = TokenVerifier(settings(jwks_url=f"{URL}/keys", token_algorithms=["RS256"]), transport)
    assert (await entra.verify(token)) == Principal("someone", Role.jobcenter, frozenset({"p"}))
    for verifier in (default, entra):
        await verifier.close()


async def test_the_maximum_lifetime_is_a_setting(issuer: DevelopmentIssuer) -> None:
    token = issuer.sign(role=Role.admin, ttl=timedelta(minutes=30))
    strict = TokenVerifier(settings(token_max_lifetime=timedelta(minutes=10)), Counting(issuer))
    with pytest.raises(Unauthorized, match="lifetime"):
        await strict.verify(token)
    await strict.close()


async def test_role_and_programmes_claims_and_role_names_are_configurable(issuer: DevelopmentIssuer) -> None:
    keycloak = TokenVerifier(
        settings(
            token_role_claim="realm_access.roles",
            token_programmes_claim="sib_programmes",
            token_role_map={"sib-jobcenter": "jobcenter", "sib-provider": "provider"},
        ),
        Counting(issuer),
    )
    token = forge(
        issuer,
        role=None,
        programmes=None,
        realm_access={"roles": ["offline_access", "sib-jobcenter"]},
        sib_programmes=["hedensted-2022"],
    )
    principal = await keycloak.verify(token)
    assert principal.role is Role.jobcenter and principal.programmes == frozenset({"hedensted-2022"})
    # The platform's own names do not pass unmapped once a mapping is set, and two roles are refused.
    with pytest.raises(Unauthorized, match="exactly one known role"):
        await keycloak.verify(forge(issuer, role=None, realm_access={"roles": ["admin"]}))
    with pytest.raises(Unauthorized, match="exactly one known role"):
        await keycloak.verify(
            forge(issuer, role=None, realm_access={"roles": ["sib-jobcenter", "sib-provider"]})
        )
    await keycloak.close()


async def test_keys_are_cached_and_fetched_again_for_a_new_kid(tmp_path: Path) -> None:
    old = DevelopmentIssuer.load_or_create(tmp_path / "a", URL)
    transport = Counting(old)
    verifier = TokenVerifier(settings(jwks_min_refresh_seconds=0), transport)
    await verifier.verify(old.sign(role=Role.admin, subject="one"))
    await verifier.verify(old.sign(role=Role.admin, subject="two"))
    assert transport.paths.count("/jwks.json") == 1  # one fetch for both tokens
    # The provider rotates its key: a token with the new kid makes the verifier fetch again.
    new = DevelopmentIssuer.load_or_create(tmp_path / "b", URL)
    transport.inner = httpx.ASGITransport(app=new.app())
    assert (await verifier.verify(new.sign(role=Role.admin))).role is Role.admin
    assert transport.paths.count("/jwks.json") == 2
    await verifier.close()


async def test_unknown_kids_do_not_hammer_the_provider(issuer: DevelopmentIssuer) -> None:
    transport = Counting(issuer)
    verifier = TokenVerifier(settings(jwks_min_refresh_seconds=3600), transport)
    await verifier.verify(issuer.sign(role=Role.admin))
    for n in range(5):
        with pytest.raises(Unauthorized):
            await verifier.verify(forge(issuer, kid=f"made-up-{n}"))
    assert transport.paths.count("/jwks.json") == 1
    await verifier.close()


async def test_an_unreachable_provider_is_a_503_not_a_401(issuer: DevelopmentIssuer) -> None:
    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("refused", request=request)

    verifier = TokenVerifier(settings(), httpx.MockTransport(refuse))
    with pytest.raises(ServiceUnavailable, match="identity provider"):
        await verifier.verify(issuer.sign(role=Role.admin))
    await verifier.close()


async def test_a_service_identity_comes_from_the_token_endpoint_and_is_kept(
    issuer: DevelopmentIssuer,
) -> None:
    transport = Counting(issuer)
    progression = CommonSettings(service_name="progression", oidc_issuer=URL, oidc_client_secret="s" * 40)
    identity = ServiceIdentity(OidcProvider(progression, transport))
    token = await identity.token()
    assert await identity.token() == token
    assert transport.paths.count("/token") == 1
    intake = TokenVerifier(settings(), Counting(issuer))
    principal = await intake.verify(token)
    assert principal == Principal("sib-progression", Role.progression_service, frozenset({ALL_PROGRAMMES}))
    # Meant for intake only: settlement refuses it.
    settlement = TokenVerifier(CommonSettings(service_name="settlement", oidc_issuer=URL), Counting(issuer))
    with pytest.raises(Unauthorized, match="aud"):
        await settlement.verify(token)
    for verifier in (intake, settlement):
        await verifier.close()


async def test_a_wrong_client_secret_gets_no_token(issuer: DevelopmentIssuer) -> None:
    wrong = CommonSettings(service_name="settlement", oidc_issuer=URL, oidc_client_secret="w" * 40)
    with pytest.raises(ServiceUnavailable):
        await ServiceIdentity(OidcProvider(wrong, Counting(issuer))).token()
    nothing = CommonSettings(service_name="settlement", oidc_issuer=URL, oidc_client_secret=None)
    with pytest.raises(ServiceUnavailable, match="OIDC_CLIENT_SECRET"):
        await ServiceIdentity(OidcProvider(nothing, Counting(issuer))).token()


def test_the_development_issuer_refuses_production(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("SIB_ENV", "production")
    monkeypatch.setenv("DEV_ISSUER_DIR", str(tmp_path / "prod"))
    with pytest.raises(ProductionRefused):
        dev_token(Role.admin)
    with pytest.raises(ProductionRefused):
        DevelopmentIssuer.load_or_create(tmp_path / "prod")
    with pytest.raises(SystemExit, match="SIB_ENV=production"):
        main(["token", "--role", "admin"])
    assert not (tmp_path / "prod").exists()  # no key was made
    assert capsys.readouterr().out == ""


def test_make_token_prints_a_token_of_the_development_issuer(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("DEV_ISSUER_DIR", str(tmp_path / "dev"))
    main(["token", "--role", "provider", "--programme", "hedensted-2022", "--minutes", "30"])
    token = capsys.readouterr().out.strip()
    issuer = DevelopmentIssuer.load_or_create(tmp_path / "dev")
    assert jwt.get_unverified_header(token)["kid"] == issuer.kid
    claims = jwt.decode(token, options={"verify_signature": False})
    assert claims["role"] == "provider" and claims["programmes"] == ["hedensted-2022"]
    assert claims["exp"] - claims["iat"] == 1800
