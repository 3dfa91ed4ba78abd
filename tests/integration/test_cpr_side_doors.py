"""No CPR through side doors: a correlation id, an Idempotency-Key or a source record id shaped like a
CPR number is refused (422 naming it, not echoing it) before it can reach a log line, an event or a
table."""

from __future__ import annotations

import pytest

from libs.common.auth import Role
from tests.integration.conftest import Pair, auth, outbox_events
from tests.integration.test_progression import PROGRAMME, enrolled_participant

SHAPED = "070761-4285"


def refused(response: object, field: str) -> bool:
    status = getattr(response, "status_code", None)
    body = response.json() if status == 422 else {}  # type: ignore[attr-defined]
    text: str = response.text  # type: ignore[attr-defined]
    return (
        status == 422
        and any(e["field"] == field for e in body.get("errors", []))
        and SHAPED not in text
        and SHAPED.replace("-", "") not in text
    )


async def test_a_cpr_shaped_correlation_id_is_refused_and_never_logged(pair: Pair) -> None:
    jobcenter = auth(Role.jobcenter, PROGRAMME)
    for shaped in (SHAPED, f"req-{SHAPED.replace('-', '')}-1"):
        response = await pair.intake.get(
            f"/v1/programmes/{PROGRAMME}", headers=jobcenter | {"X-Correlation-ID": shaped}
        )
        assert refused(response, "X-Correlation-ID"), response.text
        assert shaped not in response.headers.get("X-Correlation-ID", "")
    # Any other is let through, and sets nothing: the answer's X-Correlation-ID is the request's trace id.
    plain = await pair.intake.get("/v1/programmes", headers=jobcenter | {"X-Correlation-ID": "jc-batch-42"})
    assert plain.status_code == 200 and len(plain.headers["X-Correlation-ID"]) == 32


async def test_a_cpr_shaped_trace_header_is_refused_before_it_reaches_an_event(pair: Pair) -> None:
    """traceparent and tracestate travel into every event a request causes: a CPR-shaped run in either
    (a crafted trace id of digits, a vendor value) is a 422 naming the header, and nothing is stored."""
    jobcenter = auth(Role.jobcenter, PROGRAMME)
    digits = SHAPED.replace("-", "")
    before = len(await outbox_events(pair.intake))
    for header, value in (
        ("traceparent", f"00-ab{digits}cd{'0' * 18}-{'1' * 16}-01"),
        ("tracestate", f"vendor={SHAPED}"),
    ):
        response = await pair.intake.post(
            "/v1/programmes", json={"programme_id": "x"}, headers=jobcenter | {header: value}
        )
        assert refused(response, header), response.text
    assert len(await outbox_events(pair.intake)) == before
    fine = await pair.intake.get(
        "/v1/programmes", headers=jobcenter | {"traceparent": f"00-{'a1' * 16}-{'1' * 16}-01"}
    )
    assert fine.status_code == 200 and fine.headers["X-Correlation-ID"] == "a1" * 16


async def test_a_cpr_shaped_idempotency_key_or_source_record_id_stores_nothing(pair: Pair) -> None:
    pid = await enrolled_participant(pair)
    jobcenter = auth(Role.jobcenter, PROGRAMME, subject="jobcenter-hedensted")
    before = len(await outbox_events(pair.progression))
    record = {"participant_id": pid, "code": "employed", "valid_from": "2024-05-01"}
    keyed = await pair.progression.post(
        "/v1/status-records/batch",
        json={"records": [record]},
        headers=jobcenter | {"Idempotency-Key": SHAPED},
    )
    assert refused(keyed, "Idempotency-Key"), keyed.text
    sourced = await pair.progression.post(
        "/v1/status-records", json=record | {"source_record_id": f"cpr {SHAPED}"}, headers=jobcenter
    )
    assert refused(sourced, "source_record_id"), sourced.text
    referral = await pair.intake.post(
        "/v1/participants",
        json={"programme_id": PROGRAMME, "cpr": "010190-1234", "track": "sygedagpenge", "referred_on": "2024-03-01"},
        headers=jobcenter | {"Idempotency-Key": SHAPED.replace("-", "")},
    )  # fmt: skip
    assert refused(referral, "Idempotency-Key"), referral.text
    assert len(await outbox_events(pair.progression)) == before
    fine = await pair.progression.post(
        "/v1/status-records", json=record | {"source_record_id": "jc-000123"}, headers=jobcenter
    )
    assert fine.status_code == 201, fine.text


async def test_a_cpr_put_in_a_url_path_is_neither_echoed_nor_logged(
    pair: Pair, caplog: pytest.LogCaptureFixture
) -> None:
    jobcenter = auth(Role.jobcenter, PROGRAMME)
    caplog.set_level("INFO")
    for path in (f"/v1/participants/{SHAPED}", f"/v1/nothing/{SHAPED.replace('-', '')}"):
        response = await pair.intake.get(path, headers=jobcenter)
        assert response.status_code in (404, 422), response.text
        assert SHAPED not in response.text and SHAPED.replace("-", "") not in response.text, response.text
    # What the services logged (the test's own client logs the URLs it was asked to call).
    logged = "\n".join(r.getMessage() for r in caplog.records if not r.name.startswith("httpx"))
    assert "/v1/nothing/" in logged  # the request was logged, its path masked
    assert SHAPED not in logged and SHAPED.replace("-", "") not in logged
    # A UUID whose hex digits happen to look like a CPR number is kept as it is.
    lookalike = "3f2b8c1e-9d4a-4e7b-8a6c-ab0707614285"
    response = await pair.intake.get(f"/v1/participants/{lookalike}", headers=jobcenter)
    assert response.status_code == 404 and response.json()["instance"].endswith(lookalike)
