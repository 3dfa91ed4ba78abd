"""No text a client sends holds a NUL character: PostgreSQL cannot store one (the API fuzzer's long run
found a coach name with one answering 500 there), so it is a 422 naming the field, on every database,
in a body, a path or a query."""

from __future__ import annotations

from libs.common.auth import Role
from tests.integration.conftest import Pair, auth
from tests.integration.test_progression import PROGRAMME, enrolled_participant


def refused_naming(response: object, field: str) -> bool:
    status = getattr(response, "status_code", None)
    body = response.json() if status == 422 else {}  # type: ignore[attr-defined]
    return status == 422 and [e["field"] for e in body.get("errors", [])] == [field]


async def test_a_nul_character_anywhere_is_a_422_naming_where_it_is(pair: Pair) -> None:
    pid = await enrolled_participant(pair)
    provider = auth(Role.provider, PROGRAMME)
    coach = await pair.intake.put(
        f"/v1/participants/{pid}/coach", json={"coach_name": "Ja\x00nne"}, headers=provider
    )
    assert refused_naming(coach, "coach_name"), coach.text
    nested = await pair.progression.post(
        "/v1/status-records/batch",
        json={"records": [{"participant_id": pid, "code": "employed", "valid_from": "2024-05-01",
                           "source_record_id": "a\x00b"}]},
        headers=auth(Role.jobcenter, PROGRAMME),
    )  # fmt: skip
    assert refused_naming(nested, "records[0].source_record_id"), nested.text
    in_path = await pair.progression.get("/v1/programmes/hedensted%00-2022", headers=provider)
    assert refused_naming(in_path, "programme_id"), in_path.text
    in_query = await pair.intake.get("/v1/participants", params={"cursor": "x\x00"}, headers=provider)
    assert refused_naming(in_query, "cursor"), in_query.text
    # Nothing was stored: the coach is still the one assigned before.
    read = await pair.intake.get(f"/v1/participants/{pid}", headers=provider)
    assert "\x00" not in read.text and "Ja" not in (read.json()["coach_name"] or "")
