from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st
from pydantic import BaseModel, ValidationError

from libs.common.errors import Conflict, ServiceUnavailable, field_path, validation_problem


def test_field_path_drops_the_location_and_indexes_lists() -> None:
    assert field_path(("body", "terms", "tracks", "x")) == "terms.tracks.x"
    assert field_path(("body", "records", 3, "code")) == "records[3].code"
    assert field_path(("query", "cursor")) == "cursor"
    assert field_path(("body",)) == "body"
    assert (
        field_path(("body", "terms", "status_categories", "lotto", "[key]"))
        == "terms.status_categories.lotto"
    )


@given(
    st.lists(st.one_of(st.integers(0, 10_000), st.from_regex(r"[a-z_]{1,12}", fullmatch=True)), max_size=6)
)
def test_field_path_keeps_every_name_and_index_in_order(parts: list[str | int]) -> None:
    path = field_path(("body", *parts))
    rendered = [f"[{p}]" if isinstance(p, int) else p for p in parts]
    position = 0
    for piece in rendered:
        found = path.find(piece, position)
        assert found >= position
        position = found + len(piece)


class _Citizen(BaseModel):
    cpr: int


def test_validation_problems_never_echo_the_submitted_value() -> None:
    secret_like = "0101901234-not-a-number"
    try:
        _Citizen.model_validate({"cpr": secret_like})
    except ValidationError as exc:
        problem = validation_problem(exc.errors())
    body = problem.to_problem()
    assert secret_like not in str(body)
    assert body["errors"] == [{"field": "cpr", "in": "body", "message": body["errors"][0]["message"]}]
    assert body["status"] == 422 and body["type"] == "urn:sib:problem:validation-failed"


def test_problems_carry_rfc9457_members_and_extensions() -> None:
    body = Conflict("Exists.", participant_id="abc").to_problem(instance="/v1/x")
    assert body == {
        "type": "urn:sib:problem:conflict",
        "title": "Conflict",
        "status": 409,
        "detail": "Exists.",
        "instance": "/v1/x",
        "participant_id": "abc",
    }
    assert ServiceUnavailable("down", retry_after_seconds=7).headers == {"Retry-After": "7"}
