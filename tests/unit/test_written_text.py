"""Free text a person writes (a dispute's text, a rejection's reason, a bank reference) is trimmed and
refused when blank or CPR-shaped, naming the field and never echoing the number."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import BaseModel, ValidationError

from services.settlement.schemas.disputes import DisputeRequest, ResolutionRequest
from services.settlement.schemas.invoices import PaymentIn

PAYMENT = {"amount": "1.00", "paid_on": "2024-07-01", "bank_reference": "ref"}
DISPUTE = {"reason_code": "status_wrong", "text": "the status was wrong", "line_no": 1}
REJECTION = {"outcome": "rejected", "reason": "the status was right"}

CASES = [
    (PaymentIn, PAYMENT, "bank_reference"),
    (DisputeRequest, DISPUTE, "text"),
    (ResolutionRequest, REJECTION, "reason"),
]


@pytest.mark.parametrize(("model", "valid", "field"), CASES)
@pytest.mark.parametrize("blank", ["", "   ", "\t\n"])
def test_blank_text_is_refused_naming_the_field(
    model: type[BaseModel], valid: dict[str, Any], field: str, blank: str
) -> None:
    with pytest.raises(ValidationError) as refused:
        model.model_validate(valid | {field: blank})
    assert [error["loc"] for error in refused.value.errors()] == [(field,)]


@pytest.mark.parametrize(("model", "valid", "field"), CASES)
def test_text_is_trimmed_and_a_cpr_in_it_is_refused_unechoed(
    model: type[BaseModel], valid: dict[str, Any], field: str
) -> None:
    assert getattr(model.model_validate(valid | {field: "  kept  "}), field) == "kept"
    with pytest.raises(ValidationError) as refused:
        model.model_validate(valid | {field: "see 070761-4285"})
    assert "4285" not in str(refused.value.errors(include_input=False))


@pytest.mark.parametrize(("model", "valid", "field", "limit"), [(PaymentIn, PAYMENT, "bank_reference", 100)])
def test_padded_text_exactly_at_the_limit_is_trimmed_before_its_length_is_checked(
    model: type[BaseModel], valid: dict[str, Any], field: str, limit: int
) -> None:
    at_limit = "x" * limit
    assert getattr(model.model_validate(valid | {field: f"  {at_limit} \n"}), field) == at_limit
    with pytest.raises(ValidationError) as refused:
        model.model_validate(valid | {field: at_limit + "x"})
    assert [error["loc"] for error in refused.value.errors()] == [(field,)]
