from __future__ import annotations

import time
from datetime import timedelta

import jwt
import pytest

from libs.common.auth import ALL_PROGRAMMES, Principal, Role, decode_token, issue_token
from libs.common.errors import Forbidden, Unauthorized
from libs.common.settings import CommonSettings

SETTINGS = CommonSettings()


@pytest.mark.parametrize("role", list(Role))
def test_a_token_round_trips_role_and_programme_scope(role: Role) -> None:
    token = issue_token(SETTINGS, role=role, programmes=["hedensted-2022"], subject="someone")
    principal = decode_token(SETTINGS, token)
    assert principal == Principal("someone", role, frozenset({"hedensted-2022"}))


def test_scope_limits_programmes_except_for_admin_and_wildcard() -> None:
    provider = Principal("p", Role.provider, frozenset({"a"}))
    assert provider.can_access("a") and not provider.can_access("b")
    with pytest.raises(Forbidden):
        provider.require_programme("b")
    assert Principal("x", Role.admin, frozenset()).can_access("b")
    assert Principal("i", Role.investor, frozenset({ALL_PROGRAMMES})).can_access("b")


def test_an_expired_token_is_refused() -> None:
    token = issue_token(SETTINGS, role=Role.jobcenter, ttl=timedelta(seconds=-1))
    with pytest.raises(Unauthorized, match="expired"):
        decode_token(SETTINGS, token)


def test_a_token_signed_with_another_secret_is_refused() -> None:
    other = CommonSettings(jwt_secret="another-secret-that-is-long-enough-for-hs256")
    with pytest.raises(Unauthorized, match="not valid"):
        decode_token(SETTINGS, issue_token(other, role=Role.admin))


def test_a_token_for_another_audience_or_issuer_is_refused() -> None:
    for other in (CommonSettings(jwt_audience="elsewhere"), CommonSettings(jwt_issuer="someone-else")):
        with pytest.raises(Unauthorized):
            decode_token(SETTINGS, issue_token(other, role=Role.admin))


def test_unknown_role_or_malformed_scope_is_refused() -> None:
    secret = SETTINGS.jwt_secret.get_secret_value()
    base = {"sub": "x", "iss": SETTINGS.jwt_issuer, "aud": SETTINGS.jwt_audience, "exp": 4_000_000_000}
    with pytest.raises(Unauthorized, match="role"):
        decode_token(SETTINGS, jwt.encode(base | {"role": "superuser"}, secret, algorithm="HS256"))
    with pytest.raises(Unauthorized, match="programmes"):
        decode_token(
            SETTINGS, jwt.encode(base | {"role": "admin", "programmes": "all"}, secret, algorithm="HS256")
        )


def test_the_none_algorithm_is_refused() -> None:
    claims = {
        "sub": "x",
        "role": "admin",
        "iss": SETTINGS.jwt_issuer,
        "aud": SETTINGS.jwt_audience,
        "exp": 4_000_000_000,
    }
    with pytest.raises(Unauthorized):
        unsigned = jwt.encode(claims, None, algorithm="none")  # type: ignore[arg-type]
        decode_token(SETTINGS, unsigned)


def test_a_verified_token_is_refused_once_it_expires() -> None:
    # Verified tokens are remembered; the memory must not outlive the token's exp.
    token = issue_token(SETTINGS, role=Role.jobcenter, ttl=timedelta(seconds=1))
    assert decode_token(SETTINGS, token).role is Role.jobcenter
    time.sleep(2.1)
    with pytest.raises(Unauthorized, match="expired"):
        decode_token(SETTINGS, token)


def test_a_remembered_token_is_refused_under_another_secret() -> None:
    token = issue_token(SETTINGS, role=Role.admin)
    assert decode_token(SETTINGS, token).role is Role.admin
    other = CommonSettings(jwt_secret="another-secret-that-is-long-enough-for-hs256")
    with pytest.raises(Unauthorized, match="not valid"):
        decode_token(other, token)
