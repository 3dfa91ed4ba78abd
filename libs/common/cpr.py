"""CPR numbers: validation (intake, and progression, which checks a posted CPR before asking intake
who it is), the masked form, and what only intake uses: the keyed pseudonym and encryption at rest
(AES-GCM with key rotation, each token bound to its participant). Pure: the standard library and
``cryptography`` only.

Nothing here ever puts a CPR number, or any part of one, into a message, ``repr`` or ``str``.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import os
import re
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

_FORMAT = re.compile(r"^([0-9]{6})-?([0-9]{4})$")  # ASCII only: \d also matches other scripts' digits
_WEIGHTS = (4, 3, 2, 7, 6, 5, 4, 3, 2, 1)
# A token names its format: v2 is bound to its participant's id (the associated data), v1 was bound to
# nothing and is read only to re-encrypt it (intake's migration intake_0006).
_TOKEN_VERSION = "v2"  # noqa: S105 - a format tag, not a secret
_UNBOUND_VERSION = "v1"
_UNBOUND_ASSOCIATED_DATA = b"sib-cpr-v1"
# Shown wherever the number is not: the birth date and the sex digit are part of the number too.
MASKED_CPR = "******-****"


class CprError(ValueError):
    """What is wrong with a CPR number, never the number itself."""


def century(seventh_digit: int, yy: int) -> int:
    """The century of a birth year from the 7th digit (CPR-kontoret's table)."""
    if seventh_digit <= 3:
        return 1900
    if seventh_digit in (4, 9):
        return 2000 if yy <= 36 else 1900
    return 2000 if yy <= 57 else 1800  # 5-8


@dataclass(frozen=True)
class Cpr:
    digits: str = field(repr=False)
    birth_date: date = field(repr=False)

    @property
    def masked(self) -> str:
        return MASKED_CPR

    @property
    def formatted(self) -> str:
        return f"{self.digits[:6]}-{self.digits[6:]}"

    @property
    def passes_modulus_11(self) -> bool:
        """Informational only: numbers failing it have been issued since 2007 and are valid."""
        return sum(int(d) * w for d, w in zip(self.digits, _WEIGHTS, strict=True)) % 11 == 0

    def __repr__(self) -> str:
        return f"Cpr({self.masked})"

    def __str__(self) -> str:
        return self.masked


def parse_cpr(raw: str) -> Cpr:
    match = _FORMAT.match(raw.strip())
    if match is None:
        raise CprError("must be 10 digits, optionally with a hyphen after the 6th (DDMMYY-SSSS)")
    digits = match.group(1) + match.group(2)
    day, month, yy, seventh = int(digits[0:2]), int(digits[2:4]), int(digits[4:6]), int(digits[6])
    try:
        birth_date = date(century(seventh, yy) + yy, month, day)
    except ValueError:
        raise CprError(
            "the first six digits are not a real date (DDMMYY) in the century the 7th digit gives"
        ) from None
    return Cpr(digits, birth_date)


def cpr_pseudonym(cpr: Cpr, key: bytes) -> str:
    """Keyed HMAC-SHA256 of the number: lookups and duplicate checks without storing or sending it."""
    return hmac.new(key, cpr.digits.encode(), hashlib.sha256).hexdigest()


def keyed_fingerprint(key: bytes, body: object) -> str:
    """HMAC-SHA256 of a request body in canonical JSON: lets a retry be recognised (Idempotency-Key)
    without storing anything from which a CPR number in the body could be recovered."""
    canonical = json.dumps(body, sort_keys=True, default=str, separators=(",", ":")).encode()
    return hmac.new(key, canonical, hashlib.sha256).hexdigest()


def _key_id(key: bytes) -> str:
    return hashlib.sha256(key).hexdigest()[:8]


def _b64decode(value: str) -> bytes:
    padded = value.strip() + "=" * (-len(value.strip()) % 4)
    try:
        return base64.b64decode(padded.replace("-", "+").replace("_", "/"), validate=True)
    except (binascii.Error, ValueError):
        raise ValueError("an encryption key is not valid base64") from None


def _associated_data(participant_id: str) -> bytes:
    return b"sib-cpr-v2:" + participant_id.encode()


class CprCipher:
    """AES-GCM under the current key; previous keys still decrypt, so keys can be rotated. A token is
    bound to the participant it was made for: copied onto another participant's row it does not decrypt.
    """

    def __init__(self, current_key: bytes, previous_keys: Sequence[bytes] = ()) -> None:
        keys = [current_key, *previous_keys]
        if any(len(key) != 32 for key in keys):
            raise ValueError("CPR encryption keys must be 32 bytes")
        self._current_id = _key_id(current_key)
        self._keys = {_key_id(key): AESGCM(key) for key in keys}

    @classmethod
    def from_base64(cls, current: str, previous: Sequence[str] = ()) -> CprCipher:
        return cls(_b64decode(current), [_b64decode(key) for key in previous])

    def _seal(self, cpr: Cpr, version: str, associated_data: bytes) -> str:
        nonce = os.urandom(12)
        sealed = self._keys[self._current_id].encrypt(nonce, cpr.digits.encode(), associated_data)
        payload = base64.urlsafe_b64encode(nonce + sealed).decode().rstrip("=")
        return f"{version}.{self._current_id}.{payload}"

    def _open(self, token: str, participant_id: str, *, unbound_too: bool = False) -> Cpr:
        try:
            version, key_id, payload = token.split(".")
        except ValueError:
            raise ValueError("not a CPR token") from None
        if version == _TOKEN_VERSION:
            associated_data = _associated_data(participant_id)
        elif version == _UNBOUND_VERSION and unbound_too:
            associated_data = _UNBOUND_ASSOCIATED_DATA
        elif version == _UNBOUND_VERSION:
            raise ValueError("a CPR token not bound to its participant: intake's migrations re-encrypt it")
        else:
            raise ValueError("unknown CPR token version")
        cipher = self._keys.get(key_id)
        if cipher is None:
            raise ValueError("the CPR token's key is not configured")
        try:
            raw = base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4))
            plain = cipher.decrypt(raw[:12], raw[12:], associated_data)
        except (InvalidTag, binascii.Error, ValueError):
            raise ValueError(
                "the CPR token is damaged, was altered or belongs to another participant"
            ) from None
        return parse_cpr(plain.decode())

    def encrypt(self, cpr: Cpr, participant_id: str) -> str:
        return self._seal(cpr, _TOKEN_VERSION, _associated_data(participant_id))

    def decrypt(self, token: str, participant_id: str) -> Cpr:
        """The number in ``participant_id``'s token; refused for a token made for another participant."""
        return self._open(token, participant_id)

    def needs_rotation(self, token: str) -> bool:
        """Not in the current format under the current key."""
        return token.split(".")[:2] != [_TOKEN_VERSION, self._current_id]

    def rotate(self, token: str, participant_id: str) -> str:
        """The token in the current format under the current key, from one under any configured key,
        bound to the participant or (v1) to nothing."""
        return self.encrypt(self._open(token, participant_id, unbound_too=True), participant_id)

    def unbind(self, token: str, participant_id: str) -> str:
        """Back to the v1 format (bound to nothing) under the current key: undoing intake_0006 only."""
        cpr = self._open(token, participant_id, unbound_too=True)
        return self._seal(cpr, _UNBOUND_VERSION, _UNBOUND_ASSOCIATED_DATA)


# A CPR number's shape inside some text: a day and month, two year digits, an optional hyphen and four
# more digits, not part of a longer run of digits.
_CPR_SHAPED = re.compile(r"(?<!\d)(?:0[1-9]|[12]\d|3[01])(?:0[1-9]|1[0-2])\d{2}-?\d{4}(?!\d)")


def holds_cpr_shape(text: str) -> bool:
    """Whether ``text`` holds something shaped like a CPR number (ids, keys and headers that would keep
    it in logs, events and tables for ever)."""
    return _CPR_SHAPED.search(text) is not None


def refuse_cpr_shape(text: str) -> str:
    """A validator: the text unchanged, or an error that does not echo it."""
    if holds_cpr_shape(text):
        raise ValueError("must not hold a CPR-shaped number")
    return text


def mask_cpr_shapes_in_path(path: str) -> str:
    """A URL path fit for a log line or a problem's ``instance``: every CPR-shaped run of a segment that
    is not a UUID is masked. CPR numbers never belong in URLs, but a client may still put one there, and
    echoing or logging it would keep it; a UUID's hex digits may happen to look like one and are kept."""
    if not holds_cpr_shape(path):
        return path
    segments = []
    for segment in path.split("/"):
        try:
            uuid.UUID(segment)
        except ValueError:
            segment = _CPR_SHAPED.sub(MASKED_CPR, segment)
        segments.append(segment)
    return "/".join(segments)
