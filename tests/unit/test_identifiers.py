"""The parties' identifiers (libs/rules/identifiers.py): numbers made by computing their check digit
pass, any one changed digit fails, and published numbers pass."""

from __future__ import annotations

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from libs.rules import identifiers
from libs.rules.identifiers import CVR_WEIGHTS, DanishAccount, gs1_check_digit, iban_remainder

digits = st.text(alphabet="0123456789", min_size=1, max_size=1)


def make_cvr(first7: str) -> str | None:
    """The CVR number with these first 7 digits, or None when no 8th digit makes one."""
    rest = sum(int(d) * w for d, w in zip(first7, CVR_WEIGHTS[:7], strict=True)) % 11
    last = (11 - rest) % 11  # the 8th digit's weight is 1
    return None if last == 10 else first7 + str(last)


def make_iban(country: str, bban: str) -> str:
    check = 98 - iban_remainder(country + "00" + bban)
    return f"{country}{check:02d}{bban}"


def change_one_digit(number: str, data: st.DataObject, first: int = 0) -> str:
    """The number with one digit (at ``first`` or after) replaced by another digit."""
    positions = [i for i, c in enumerate(number) if c.isdigit() and i >= first]
    at = data.draw(st.sampled_from(positions))
    new = data.draw(st.sampled_from([d for d in "0123456789" if d != number[at]]))
    return number[:at] + new + number[at + 1 :]


@given(st.text(alphabet="0123456789", min_size=7, max_size=7))
def test_a_cvr_number_made_with_its_check_digit_passes(first7: str) -> None:
    number = make_cvr(first7)
    assume(number is not None)
    assert number is not None
    assert identifiers.cvr(number) == number
    assert identifiers.cvr(f"DK {number[:4]} {number[4:]}") == number


@given(st.text(alphabet="0123456789", min_size=7, max_size=7), st.data())
def test_a_cvr_number_with_any_one_digit_changed_fails(first7: str, data: st.DataObject) -> None:
    number = make_cvr(first7)
    assume(number is not None)
    assert number is not None
    with pytest.raises(ValueError, match="modulus-11"):
        identifiers.cvr(change_one_digit(number, data))


@given(st.text(alphabet="0123456789", min_size=12, max_size=12))
def test_a_gln_made_with_its_gs1_check_digit_passes(body: str) -> None:
    number = body + str(gs1_check_digit(body))
    assert identifiers.gln(number) == number


@given(st.text(alphabet="0123456789", min_size=12, max_size=12), st.data())
def test_a_gln_with_any_one_digit_changed_fails(body: str, data: st.DataObject) -> None:
    number = body + str(gs1_check_digit(body))
    with pytest.raises(ValueError, match="GS1 check digit"):
        identifiers.gln(change_one_digit(number, data))


ibans = st.one_of(
    st.tuples(st.just("DK"), st.text(alphabet="0123456789", min_size=14, max_size=14)),
    st.tuples(
        st.sampled_from(["DE", "GB", "NL", "SE"]),
        st.text(alphabet="0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ", min_size=10, max_size=30),
    ),
)


@given(ibans)
def test_an_iban_made_with_its_check_digits_passes(parts: tuple[str, str]) -> None:
    number = make_iban(*parts)
    assert identifiers.iban(number) == number
    spaced = " ".join(number[i : i + 4] for i in range(0, len(number), 4)).lower()
    assert identifiers.iban(spaced) == number


@given(ibans, st.data())
def test_an_iban_with_any_one_digit_changed_fails(parts: tuple[str, str], data: st.DataObject) -> None:
    number = make_iban(*parts)
    with pytest.raises(ValueError, match="mod-97"):
        identifiers.iban(change_one_digit(number, data, first=2))


@pytest.mark.parametrize(
    "number",
    [
        "24256790",  # Novo Nordisk A/S
        "61126228",  # Danske Bank A/S
        "22756214",  # A.P. Møller - Mærsk A/S
    ],
)
def test_published_cvr_numbers_pass(number: str) -> None:
    assert identifiers.cvr(number) == number


@pytest.mark.parametrize(
    "number",
    [
        "0614141000036",  # GS1's own example GLN (company prefix 0614141)
        "7300010000001",  # the GLN of the Peppol BIS Billing 3.0 examples (vat-category-E.xml)
        "4006381333931",  # a GTIN-13 printed on a product: the same GS1 check digit
    ],
)
def test_published_gs1_numbers_pass(number: str) -> None:
    assert identifiers.gln(number) == number


@pytest.mark.parametrize(
    ("number", "normal"),
    [
        ("DK50 0040 0440 1162 43", "DK5000400440116243"),  # the IBAN registry's Danish example
        ("GB82 WEST 1234 5698 7654 32", "GB82WEST12345698765432"),
        ("DE89 3704 0044 0532 0130 00", "DE89370400440532013000"),
    ],
)
def test_published_ibans_pass(number: str, normal: str) -> None:
    assert identifiers.iban(number) == normal


@pytest.mark.parametrize(
    ("call", "value", "message"),
    [
        (identifiers.cvr, "1234567", "8 digits"),
        (identifiers.cvr, "2425679O", "8 digits"),
        (identifiers.cvr, "24256791", "modulus-11"),
        (identifiers.gln, "061414100003", "13 digits"),
        (identifiers.gln, "0614141000037", "GS1 check digit"),
        (identifiers.iban, "DK500040044011624", "18 characters"),
        (identifiers.iban, "5000400440116243DK", "country code"),
        (identifiers.iban, "DK5100400440116243", "mod-97"),
        (identifiers.bic, "DABADK", "8 or 11"),
    ],
)
def test_a_bad_identifier_is_refused_naming_the_rule_without_repeating_the_value(
    call, value: str, message: str
) -> None:
    with pytest.raises(ValueError, match=message) as caught:
        call(value)
    assert value not in str(caught.value)


def test_a_danish_account_is_a_4_digit_registration_and_an_account_of_up_to_10_digits() -> None:
    assert identifiers.danish_account("1234", "12345678") == DanishAccount("1234", "0012345678")
    assert identifiers.danish_account(" 1234 ", "1234-567890") == DanishAccount("1234", "1234567890")
    for reg, account, message in [
        ("123", "12345678", "registration number must be 4 digits"),
        ("12345", "12345678", "registration number must be 4 digits"),
        ("1234", "12345678901", "1 to 10 digits"),
        ("1234", "", "1 to 10 digits"),
        ("1234", "12a45678", "1 to 10 digits"),
        ("1234", "0000", "all zeros"),
    ]:
        with pytest.raises(ValueError, match=message):
            identifiers.danish_account(reg, account)


def test_a_bic_is_8_or_11_characters() -> None:
    assert identifiers.bic("daba dk kk") == "DABADKKK"
    assert identifiers.bic("NDEADKKKXXX") == "NDEADKKKXXX"
    with pytest.raises(ValueError, match="8 or 11"):
        identifiers.bic("DABADKKKX")
