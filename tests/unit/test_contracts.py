from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, date, datetime
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

from libs.common.contracts import (
    DEFAULT_LEGAL_BASIS,
    PARTICIPANT_EVENT_TYPES,
    BankAccount,
    ParticipantEnrolledV1,
    ParticipantEnrolledV2,
    ParticipantEvent,
    ParticipantReferredV2,
    ParticipantWithdrawnV2,
    ProgrammeTerms,
    ProgrammeTermsPublishedV1,
    StatusCategory,
    StatusCode,
    VatCategory,
    VatTerms,
)
from libs.common.events import CloudEvent, new_event, parse_payload, registered_contracts
from services.settlement.einvoice.model import EXEMPT_SOCIAL, VatSetting

BASE = {
    "tracks": {"sygedagpenge": 120, "jobafklaring": 30},
    "fee_per_month_dkk": "3500",
    "total_cap_dkk": "5600000",
    "split": {"investor_percent": "60", "provider_percent": "40"},
}


def errors_for(terms: Mapping[str, object]) -> list[tuple[object, ...]]:
    with pytest.raises(ValidationError) as info:
        ProgrammeTerms.model_validate(terms)
    return [err["loc"] for err in info.value.errors()]


def test_seed_defaults() -> None:
    terms = ProgrammeTerms.model_validate(BASE)
    assert terms.follow_up_months == 24
    assert terms.month_rule == "full_month"
    assert terms.settlement_lag_months == 2
    assert terms.target_uplift_weeks == Decimal("15")
    assert terms.fee_for_track("jobafklaring") == Decimal("3500.00")


def test_a_per_track_fee_overrides_the_programme_fee() -> None:
    terms = ProgrammeTerms.model_validate(BASE | {"track_fee_per_month_dkk": {"jobafklaring": "4200"}})
    assert terms.fee_for_track("jobafklaring") == Decimal("4200.00")
    assert terms.fee_for_track("sygedagpenge") == Decimal("3500.00")


def test_per_track_values_must_name_a_track() -> None:
    assert ("track_fee_per_month_dkk",) in errors_for(BASE | {"track_fee_per_month_dkk": {"x": "1"}})
    assert ("control_baseline_weeks",) in errors_for(BASE | {"control_baseline_weeks": {"x": "1"}})


def test_split_must_add_up_to_100() -> None:
    assert ("split",) in errors_for(BASE | {"split": {"investor_percent": "60", "provider_percent": "30"}})


def test_money_has_at_most_two_decimals_and_is_never_negative() -> None:
    assert ("fee_per_month_dkk",) in errors_for(BASE | {"fee_per_month_dkk": "1.005"})
    assert ("total_cap_dkk",) in errors_for(BASE | {"total_cap_dkk": "-1"})


def test_status_categories_remap_known_codes_only() -> None:
    terms = ProgrammeTerms.model_validate(
        BASE | {"status_categories": {"barselsdagpenge": "self_supporting"}}
    )
    assert terms.status_categories == {StatusCode.barselsdagpenge: StatusCategory.self_supporting}
    assert ("status_categories", "lotto", "[key]") in errors_for(BASE | {"status_categories": {"lotto": "x"}})


@given(
    fee=st.decimals(min_value=0, max_value=10**6, places=2, allow_nan=False, allow_infinity=False),
    investor=st.integers(0, 100),
    months=st.integers(1, 120),
)
def test_terms_survive_the_json_round_trip_of_an_event(fee: Decimal, investor: int, months: int) -> None:
    terms = ProgrammeTerms.model_validate(
        BASE
        | {
            "fee_per_month_dkk": str(fee),
            "follow_up_months": months,
            "split": {"investor_percent": investor, "provider_percent": 100 - investor},
        }
    )
    again = ProgrammeTerms.model_validate_json(terms.model_dump_json())
    assert again == terms
    assert again.fee_per_month_dkk == fee


PARTICIPANT = {
    "participant_id": "0b7c6d0e-2d0f-4a8e-9f3a-5b1e2c4d6f70",
    "programme_id": "hedensted-2022",
    "track": "sygedagpenge",
    "referred_on": "2024-03-01",
}


def test_the_v2_participant_events_carry_nothing_derived_from_the_cpr() -> None:
    for contract in (ParticipantReferredV2, ParticipantEnrolledV2, ParticipantWithdrawnV2):
        assert contract.event_type.endswith(".v2")
        assert not any("cpr" in name or "pseudonym" in name for name in contract.model_fields)
    enrolled = ParticipantEnrolledV2.model_validate(
        PARTICIPANT | {"enrolled_on": "2024-03-15", "consent_given_on": "2024-03-10"}
    )
    assert "pseudonym" not in new_event(enrolled, subject="participant/x").model_dump_json()


def test_the_v1_participant_events_stay_readable_beside_the_v2_ones() -> None:
    registry = registered_contracts()
    assert set(PARTICIPANT_EVENT_TYPES) <= set(registry)
    assert {t.rsplit(".", 1)[1] for t in PARTICIPANT_EVENT_TYPES} == {"v1", "v2"}
    old = ParticipantEnrolledV1.model_validate(
        PARTICIPANT
        | {"cpr_pseudonym": "a" * 64, "enrolled_on": "2024-03-15", "consent_given_on": "2024-03-10"}
    )
    for payload in (old, ParticipantReferredV2.model_validate(PARTICIPANT)):
        read = parse_payload(new_event(payload, subject="participant/x"))
        assert read == payload and isinstance(read, ParticipantEvent)


# Terms as stored and published before dispute_window_days, payment_terms_days, vat, retention_years and
# legal_basis existed.
STORED_BEFORE_THE_INVOICE_TERMS = {
    "tracks": {"sygedagpenge": 120, "jobafklaring": 30},
    "follow_up_months": 24,
    "fee_per_month_dkk": "3500.00",
    "track_fee_per_month_dkk": {},
    "month_rule": "full_month",
    "total_cap_dkk": "5600000.00",
    "split": {"investor_percent": "60.00", "provider_percent": "40.00"},
    "investment_dkk": "0.00",
    "status_categories": {},
    "settlement_lag_months": 2,
    "control_baseline_weeks": {},
    "target_uplift_weeks": "15",
}


def test_terms_stored_before_the_invoice_terms_load_with_their_defaults() -> None:
    terms = ProgrammeTerms.model_validate(STORED_BEFORE_THE_INVOICE_TERMS)
    assert (terms.dispute_window_days, terms.payment_terms_days) == (30, 30)
    assert (terms.retention_years, terms.legal_basis) == (5, DEFAULT_LEGAL_BASIS)
    assert terms.vat.category is VatCategory.exempt
    assert terms.vat.percent == 0
    assert terms.vat.exemption_reason_code == "VATEX-EU-132-1G"
    # An old event carrying them loads too.
    event = new_event(
        ProgrammeTermsPublishedV1(
            programme_id="hedensted-2022",
            name="Hedensted",
            version=1,
            effective_from=date(2022, 9, 1),
            published_at=datetime(2022, 9, 1, tzinfo=UTC),
            terms=terms,
        ),
        subject="programme/hedensted-2022",
    )
    envelope = event.model_dump(mode="json")
    envelope["data"]["terms"] = STORED_BEFORE_THE_INVOICE_TERMS
    payload = parse_payload(CloudEvent.model_validate(envelope))
    assert isinstance(payload, ProgrammeTermsPublishedV1)
    assert payload.terms == terms


def test_the_einvoice_builder_takes_the_programmes_vat_terms_and_the_default_exemption() -> None:
    assert VatSetting is VatTerms
    assert ProgrammeTerms.model_validate(BASE).vat == EXEMPT_SOCIAL


@pytest.mark.parametrize(
    ("vat", "ok"),
    [
        ({"category": "S", "percent": "25"}, True),
        ({"category": "E", "exemption_reason_code": "VATEX-EU-132-1G"}, True),
        ({"category": "E"}, False),  # an exemption needs its reason
        ({"category": "E", "percent": "25", "exemption_reason": "x"}, False),
        ({"category": "S"}, False),  # a standard rate is above 0
        ({"category": "S", "percent": "25", "exemption_reason": "x"}, False),
        ({"category": "Z", "percent": "0"}, False),
    ],
)
def test_a_programmes_vat_follows_the_einvoice_rules(vat: dict[str, str], ok: bool) -> None:
    if ok:
        ProgrammeTerms.model_validate(BASE | {"vat": vat})
    else:
        assert errors_for(BASE | {"vat": vat})[0][0] == "vat"


@pytest.mark.parametrize(("days", "ok"), [(0, False), (1, True), (30, True), (365, True), (366, False)])
def test_the_dispute_window_is_between_a_day_and_a_year(days: int, ok: bool) -> None:
    if ok:
        assert ProgrammeTerms.model_validate(BASE | {"dispute_window_days": days}).dispute_window_days == days
    else:
        assert errors_for(BASE | {"dispute_window_days": days}) == [("dispute_window_days",)]


def test_a_bank_account_is_kept_in_its_normal_form_and_masks_to_its_last_four_characters() -> None:
    danish = BankAccount(reg_no="5295", account_no="1234567")
    assert danish.account_no == "0001234567"
    assert danish.masked().account_no == "******4567"
    assert danish.masked().reg_no == "****"
    iban = BankAccount(iban="dk80 3000 0012 3456 78")
    assert iban.iban == "DK8030000012345678"
    assert iban.masked().iban == "**************5678"


@pytest.mark.parametrize(("years", "ok"), [(0, False), (1, True), (5, True), (30, True), (31, False)])
def test_retention_is_between_one_and_thirty_years(years: int, ok: bool) -> None:
    if ok:
        assert ProgrammeTerms.model_validate(BASE | {"retention_years": years}).retention_years == years
    else:
        assert errors_for(BASE | {"retention_years": years}) == [("retention_years",)]


def test_the_legal_basis_is_free_text_kept_as_written_but_never_empty() -> None:
    basis = "GDPR art. 6(1)(e) og 9(2)(b); lov om en aktiv beskæftigelsesindsats § 2"
    assert ProgrammeTerms.model_validate(BASE | {"legal_basis": f"  {basis} "}).legal_basis == basis
    for empty in ("", "   ", "x" * 501):
        assert errors_for(BASE | {"legal_basis": empty}) == [("legal_basis",)]


@given(
    day=st.integers(1, 28),
    month=st.integers(1, 12),
    year=st.integers(0, 99),
    serial=st.integers(0, 9999),
    hyphen=st.booleans(),
    before=st.sampled_from(["", "see ", "lov nr. 548; borger "]),
    after=st.sampled_from(["", " ", "; art. 9"]),
)
def test_a_legal_basis_holding_a_cpr_shaped_number_is_refused_without_echoing_it(
    day: int, month: int, year: int, serial: int, hyphen: bool, before: str, after: str
) -> None:
    cpr = f"{day:02}{month:02}{year:02}{'-' if hyphen else ''}{serial:04}"
    with pytest.raises(ValidationError) as info:
        ProgrammeTerms.model_validate(BASE | {"legal_basis": before + cpr + after})
    [error] = info.value.errors(include_input=False)
    assert error["loc"] == ("legal_basis",)
    assert cpr not in str(error["msg"])
