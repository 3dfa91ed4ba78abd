from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

from libs.common.contracts import (
    PARTICIPANT_EVENT_TYPES,
    ParticipantEnrolledV1,
    ParticipantEnrolledV2,
    ParticipantEvent,
    ParticipantReferredV2,
    ParticipantWithdrawnV2,
    ProgrammeTerms,
    StatusCategory,
    StatusCode,
)
from libs.common.events import new_event, parse_payload, registered_contracts

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
