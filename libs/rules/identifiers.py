"""Identifiers of the parties of a contract (DOMAIN.md "Parties"): checked and written one way.

Each function takes what a person typed, removes spaces, checks the number's own rule and returns its
normal form, or raises ``ValueError`` saying which rule failed. A message never repeats the value: an
error may be logged, and a mistyped field can hold anything.

- CVR (Danish business register): 8 digits whose sum weighted 2,7,6,5,4,3,2,1 is divisible by 11.
- EAN/GLN (GS1 Global Location Number, the address a Danish public body receives invoices at): 13
  digits, the last the GS1 check digit.
- IBAN (ISO 13616): country code, two check digits and up to 30 letters or digits; mod 97 equals 1.
- Danish bank account: a 4-digit registration number and an account number of up to 10 digits.
- BIC (ISO 9362): 4 letters, 2 letters of a country, 2 letters or digits, optionally 3 more.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

CVR_WEIGHTS = (2, 7, 6, 5, 4, 3, 2, 1)
# Lengths checked beyond the general form: only where this platform's parties bank.
IBAN_LENGTHS = {"DK": 18, "FO": 18, "GL": 18}

_DIGITS = re.compile(r"[0-9]+")
_IBAN = re.compile(r"[A-Z]{2}[0-9]{2}[A-Z0-9]{1,30}")
_BIC = re.compile(r"[A-Z]{4}[A-Z]{2}[A-Z0-9]{2}([A-Z0-9]{3})?")


def _compact(value: str) -> str:
    """The value without spaces (people write numbers in groups)."""
    return "".join(value.split())


def cvr_valid(digits: str) -> bool:
    """Whether 8 digits satisfy the CVR modulus-11 rule."""
    return sum(int(d) * w for d, w in zip(digits, CVR_WEIGHTS, strict=True)) % 11 == 0


def cvr(value: str) -> str:
    """A CVR number as its 8 digits; "DK" before it (the Danish VAT number's form) is accepted."""
    text = _compact(value).upper()
    text = text.removeprefix("DK")
    if len(text) != 8 or not _DIGITS.fullmatch(text):
        raise ValueError("a CVR number must be 8 digits")
    if not cvr_valid(text):
        raise ValueError("not a CVR number: its modulus-11 check fails")
    return text


def gs1_check_digit(body: str) -> int:
    """The GS1 check digit of the digits before it: weights 3 and 1 alternate from the right."""
    total = sum(int(d) * (3 if i % 2 == 0 else 1) for i, d in enumerate(reversed(body)))
    return (10 - total % 10) % 10


def gln(value: str) -> str:
    """An EAN/GLN location number as its 13 digits."""
    text = _compact(value)
    if len(text) != 13 or not _DIGITS.fullmatch(text):
        raise ValueError("an EAN/GLN number must be 13 digits")
    if gs1_check_digit(text[:-1]) != int(text[-1]):
        raise ValueError("not an EAN/GLN number: its GS1 check digit does not match")
    return text


def iban_remainder(text: str) -> int:
    """ISO 7064 mod 97-10 of an IBAN: the first four characters moved to the end, letters as 10-35."""
    moved = text[4:] + text[:4]
    return int("".join(str(int(c, 36)) for c in moved)) % 97


def iban(value: str) -> str:
    """An IBAN in its electronic form: upper case, no spaces."""
    text = _compact(value).upper()
    if not _IBAN.fullmatch(text):
        raise ValueError("an IBAN must be a country code, two check digits and up to 30 letters or digits")
    expected = IBAN_LENGTHS.get(text[:2])
    if expected is not None and len(text) != expected:
        raise ValueError(f"an IBAN of this country must be {expected} characters")
    if iban_remainder(text) != 1:
        raise ValueError("not an IBAN: its mod-97 check fails")
    return text


@dataclass(frozen=True)
class DanishAccount:
    """A Danish bank account: registration number (the bank's branch) and account number."""

    reg: str
    account: str


def danish_account(reg: str, account: str) -> DanishAccount:
    """A Danish account with the account number padded to 10 digits, so one account has one spelling
    (a changed spelling must not read as a changed account)."""
    reg_text, account_text = _compact(reg), _compact(account).replace("-", "")
    if len(reg_text) != 4 or not _DIGITS.fullmatch(reg_text):
        raise ValueError("a Danish registration number must be 4 digits")
    if not 1 <= len(account_text) <= 10 or not _DIGITS.fullmatch(account_text):
        raise ValueError("a Danish account number must be 1 to 10 digits")
    if int(account_text) == 0:
        raise ValueError("a Danish account number cannot be all zeros")
    return DanishAccount(reg_text, account_text.zfill(10))


def bic(value: str) -> str:
    """A BIC (SWIFT code) of 8 or 11 characters, upper case."""
    text = _compact(value).upper()
    if not _BIC.fullmatch(text):
        raise ValueError("a BIC must be 8 or 11 letters and digits (bank, country, location, branch)")
    return text
