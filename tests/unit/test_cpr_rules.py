"""CPR rules (DOMAIN.md "CPR numbers"): format, the century table, real dates, modulus 11 never a
reason to reject, masking, the keyed pseudonym, and encryption bound to the participant with key
rotation."""

from __future__ import annotations

import base64
import hashlib
import os
import re
from datetime import date

import pytest
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from hypothesis import assume, given
from hypothesis import strategies as st

from libs.common.cpr import MASKED_CPR, CprCipher, CprError, cpr_pseudonym, keyed_fingerprint, parse_cpr

# The official table, written out independently of the code: 7th digit -> (YY range, century).
CENTURY_TABLE = {
    0: [(0, 99, 1900)],
    1: [(0, 99, 1900)],
    2: [(0, 99, 1900)],
    3: [(0, 99, 1900)],
    4: [(0, 36, 2000), (37, 99, 1900)],
    5: [(0, 57, 2000), (58, 99, 1800)],
    6: [(0, 57, 2000), (58, 99, 1800)],
    7: [(0, 57, 2000), (58, 99, 1800)],
    8: [(0, 57, 2000), (58, 99, 1800)],
    9: [(0, 36, 2000), (37, 99, 1900)],
}


def expected_year(seventh: int, yy: int) -> int:
    for low, high, century in CENTURY_TABLE[seventh]:
        if low <= yy <= high:
            return century + yy
    raise AssertionError("table incomplete")


def sevenths_for(year: int) -> list[int]:
    return [s for s in range(10) if expected_year(s, year % 100) == year]


@pytest.mark.parametrize("seventh", range(10))
def test_the_century_table_for_every_seventh_digit_and_year(seventh: int) -> None:
    for yy in range(100):
        number = f"0101{yy:02d}{seventh}000"
        assert parse_cpr(number).birth_date.year == expected_year(seventh, yy), number


@given(
    born=st.dates(date(1858, 1, 1), date(2057, 12, 31)),
    rest=st.integers(0, 999),
    hyphen=st.booleans(),
    data=st.data(),
)
def test_any_real_birth_date_round_trips(born: date, rest: int, hyphen: bool, data: st.DataObject) -> None:
    choices = sevenths_for(born.year)
    assume(choices)
    seventh = data.draw(st.sampled_from(choices))
    digits = f"{born:%d%m}{born.year % 100:02d}{seventh}{rest:03d}"
    raw = f"{digits[:6]}-{digits[6:]}" if hyphen else digits
    cpr = parse_cpr(raw)
    assert cpr.digits == digits
    assert cpr.birth_date == born
    assert cpr.formatted == f"{digits[:6]}-{digits[6:]}"


@given(st.dates(date(1937, 1, 1), date(1999, 12, 31)), st.integers(0, 999))
def test_numbers_failing_modulus_11_are_valid(born: date, serial: int) -> None:
    digits = f"{born:%d%m%y}0{serial:03d}"
    cpr = parse_cpr(digits)
    weights = (4, 3, 2, 7, 6, 5, 4, 3, 2, 1)
    assert cpr.passes_modulus_11 == (sum(int(d) * w for d, w in zip(digits, weights, strict=True)) % 11 == 0)


def test_a_known_modulus_11_failure_is_accepted() -> None:
    cpr = parse_cpr("010190-1234")
    assert not cpr.passes_modulus_11
    assert cpr.birth_date == date(1990, 1, 1)


@pytest.mark.parametrize(
    "raw",
    [
        "3102991234",  # 31 February
        "2902011234",  # 1901 is not a leap year (7th digit 1 -> 1900s)
        "0000001234",
        "3201901234",
        "0113901234",  # month 13
        "010190123",  # 9 digits
        "01019012345",
        "0101-901234",
        "010190--1234",
        "O10190I234",
        "",
    ],
)
def test_invalid_numbers_are_refused(raw: str) -> None:
    with pytest.raises(CprError):
        parse_cpr(raw)


def test_29_february_needs_a_leap_year_in_the_resolved_century() -> None:
    assert parse_cpr("290200-4000").birth_date == date(2000, 2, 29)  # 7th digit 4, YY 00 -> 2000
    with pytest.raises(CprError):
        parse_cpr("290200-1000")  # 7th digit 1 -> 1900, not a leap year


@given(st.text(alphabet="0123456789-", min_size=6, max_size=14))
def test_an_error_never_contains_the_input(raw: str) -> None:
    try:
        parse_cpr(raw)
    except CprError as exc:
        message = str(exc)
        digits = raw.replace("-", "")
        for start in range(max(len(digits) - 5, 0)):
            assert digits[start : start + 6] not in message


def test_the_masked_form_and_representations_hide_every_digit() -> None:
    cpr = parse_cpr("0707614285")
    assert cpr.masked == MASKED_CPR == "******-****"
    for shown in (cpr.masked, repr(cpr), str(cpr), f"{cpr}", repr([cpr])):
        assert not re.search(r"[0-9]", shown)  # neither the birth date nor the sex digit


KEY = b"k" * 32
PID = "0b7c6d0e-2d0f-4a8e-9f3a-5b1e2c4d6f70"
OTHER_PID = "6c1f0b1e-7a55-4d0e-8f55-2c0e9a3b1d42"


def test_the_pseudonym_is_a_keyed_hmac_not_a_plain_hash() -> None:
    cpr = parse_cpr("0707614285")
    pseudonym = cpr_pseudonym(cpr, KEY)
    assert len(pseudonym) == 64 and int(pseudonym, 16) >= 0
    assert pseudonym == cpr_pseudonym(parse_cpr("070761-4285"), KEY)
    assert pseudonym != cpr_pseudonym(cpr, b"other key")
    assert pseudonym != hashlib.sha256(b"0707614285").hexdigest()


@given(st.dates(date(1937, 1, 1), date(1999, 12, 31)), st.integers(0, 999))
def test_encryption_round_trips_and_hides_the_number(born: date, serial: int) -> None:
    cipher = CprCipher(os.urandom(32))
    cpr = parse_cpr(f"{born:%d%m%y}0{serial:03d}")
    token = cipher.encrypt(cpr, PID)
    assert cipher.decrypt(token, PID) == cpr
    assert cpr.digits not in token and cpr.digits[:6] not in token
    assert cipher.encrypt(cpr, PID) != token  # a fresh nonce each time


def test_a_tampered_token_is_refused() -> None:
    cipher = CprCipher(os.urandom(32))
    token = cipher.encrypt(parse_cpr("0707614285"), PID)
    tampered = token[:-2] + ("A" if token[-2] != "A" else "B") + token[-1]
    with pytest.raises(ValueError, match="damaged"):
        cipher.decrypt(tampered, PID)


def test_a_token_decrypts_only_for_the_participant_it_was_made_for() -> None:
    cipher = CprCipher(os.urandom(32))
    mine, theirs = parse_cpr("0707614285"), parse_cpr("0202851235")
    my_token, their_token = cipher.encrypt(mine, PID), cipher.encrypt(theirs, OTHER_PID)
    # Two rows' ciphertexts swapped: neither decrypts on the other's row.
    with pytest.raises(ValueError, match="another participant"):
        cipher.decrypt(their_token, PID)
    with pytest.raises(ValueError, match="another participant"):
        cipher.decrypt(my_token, OTHER_PID)
    assert cipher.decrypt(my_token, PID) == mine and cipher.decrypt(their_token, OTHER_PID) == theirs


def v1_token(key: bytes, digits: str) -> str:
    """A token as intake wrote it before tokens were bound to their participant, built here from the
    format rather than by the code under test."""
    nonce = os.urandom(12)
    sealed = AESGCM(key).encrypt(nonce, digits.encode(), b"sib-cpr-v1")
    payload = base64.urlsafe_b64encode(nonce + sealed).decode().rstrip("=")
    return f"v1.{hashlib.sha256(key).hexdigest()[:8]}.{payload}"


def test_an_unbound_v1_token_is_recognised_but_only_re_encrypted() -> None:
    old_key, new_key = os.urandom(32), os.urandom(32)
    cpr = parse_cpr("0707614285")
    old = v1_token(old_key, cpr.digits)
    cipher = CprCipher(new_key, [old_key])
    with pytest.raises(ValueError, match="not bound"):
        cipher.decrypt(old, PID)  # never served as it is: the migration re-encrypts it first
    assert cipher.needs_rotation(old)
    bound = cipher.rotate(old, PID)
    assert bound.startswith("v2.") and not cipher.needs_rotation(bound)
    assert CprCipher(new_key).decrypt(bound, PID) == cpr
    with pytest.raises(ValueError, match="another participant"):
        CprCipher(new_key).decrypt(bound, OTHER_PID)
    unbound = cipher.unbind(bound, PID)  # the migration's downgrade
    assert unbound.startswith("v1.") and cipher.rotate(unbound, OTHER_PID).startswith("v2.")
    with pytest.raises(ValueError, match="unknown CPR token version"):
        cipher.decrypt("v9" + bound[2:], PID)


def test_keys_rotate_without_losing_old_rows() -> None:
    old_key, new_key = os.urandom(32), os.urandom(32)
    cpr = parse_cpr("0707614285")
    old_token = CprCipher(old_key).encrypt(cpr, PID)

    rotated_cipher = CprCipher(new_key, [old_key])
    assert rotated_cipher.decrypt(old_token, PID) == cpr
    assert rotated_cipher.needs_rotation(old_token)
    new_token = rotated_cipher.rotate(old_token, PID)
    assert not rotated_cipher.needs_rotation(new_token)
    assert CprCipher(new_key).decrypt(new_token, PID) == cpr
    with pytest.raises(ValueError, match="key is not configured"):
        CprCipher(new_key).decrypt(old_token, PID)


def test_keys_must_be_32_bytes_of_base64() -> None:
    with pytest.raises(ValueError, match="32 bytes"):
        CprCipher(b"short")
    with pytest.raises(ValueError, match="base64"):
        CprCipher.from_base64("not base64 at all!")
    assert isinstance(CprCipher.from_base64("a2V5LWtleS1rZXkta2V5LWtleS1rZXkta2V5LWtleTE="), CprCipher)


def test_only_ascii_digits_are_accepted() -> None:
    # Arabic-Indic and full-width digits would otherwise parse to a different pseudonym for the
    # same citizen and slip past the duplicate check.
    def in_script(zero: int, digits: str) -> str:
        return "".join(chr(zero + int(d)) if d.isdigit() else d for d in digits)

    for raw in (
        in_script(0x0660, "0101901234"),
        in_script(0xFF10, "0101901234"),
        "010190-" + in_script(0xFF10, "1234"),
    ):
        with pytest.raises(CprError):
            parse_cpr(raw)


def test_a_request_fingerprint_is_keyed_order_free_and_hides_the_cpr() -> None:
    body = {"cpr": "0707614285", "track": "sygedagpenge"}
    digest = keyed_fingerprint(KEY, body)
    assert digest == keyed_fingerprint(KEY, dict(reversed(list(body.items()))))
    assert digest != keyed_fingerprint(b"other key", body)
    assert digest != keyed_fingerprint(KEY, body | {"track": "jobafklaring"})
    assert "0707614285" not in digest and len(digest) == 64
