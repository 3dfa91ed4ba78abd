"""Progression with intake beside it (real database, real nats-server): status records single and in
batches, the timeline and the cut-off, as_of, measurements and milestones."""

from __future__ import annotations

import asyncio
import copy
import json
from datetime import date, timedelta
from typing import Any

import nats
import nats.js.errors
import pytest

from libs.common.auth import Role
from libs.common.bulk import COPY_FROM_ROWS
from libs.common.nats import connect_options
from tests.integration.conftest import SEED, Pair, auth, eventually, outbox_events

PROGRAMME = "hedensted-2022"
JOBCENTER = auth(Role.jobcenter, PROGRAMME, subject="jobcenter-hedensted")
PROVIDER = auth(Role.provider, PROGRAMME, subject="provider-marselisborg")
ADMIN = auth(Role.admin)
CPR = "070761-4285"


async def enrolled_participant(pair: Pair, cpr: str = CPR, wait_for_event: bool = True) -> str:
    if (await pair.intake.get(f"/v1/programmes/{PROGRAMME}", headers=ADMIN)).status_code == 404:
        assert (await pair.intake.post("/v1/programmes", json=SEED, headers=ADMIN)).status_code == 201
    referred = await pair.intake.post(
        "/v1/participants",
        json={"programme_id": PROGRAMME, "cpr": cpr, "track": "sygedagpenge", "referred_on": "2024-03-01"},
        headers=JOBCENTER,
    )
    pid = str(referred.json()["participant_id"])
    enrolled = await pair.intake.post(
        f"/v1/participants/{pid}/enrolment",
        json={"enrolled_on": "2024-03-15", "consent_given_on": "2024-03-10"},
        headers=JOBCENTER,
    )
    assert enrolled.status_code == 200
    if wait_for_event:

        async def known() -> bool:
            programme = await pair.progression.get(f"/v1/programmes/{PROGRAMME}", headers=ADMIN)
            records = await pair.progression.get(f"/v1/participants/{pid}/status-records", headers=ADMIN)
            return programme.status_code == 200 and records.status_code == 200

        await eventually(known)
    return pid


async def post(pair: Pair, body: dict[str, Any], headers: dict[str, str] = JOBCENTER) -> Any:
    return await pair.progression.post("/v1/status-records", json=body, headers=headers)


async def timeline(pair: Pair, pid: str, **params: str) -> list[dict[str, Any]]:
    response = await pair.progression.get(
        f"/v1/participants/{pid}/timeline", params=params, headers=JOBCENTER
    )
    assert response.status_code == 200, response.text
    return list(response.json()["periods"])


async def test_a_status_record_is_stored_numbered_and_announced(pair: Pair) -> None:
    pid = await enrolled_participant(pair)
    response = await post(
        pair,
        {"participant_id": pid, "code": "sygedagpenge", "valid_from": "2024-03-15", "valid_to": "2024-04-30"},
    )
    assert response.status_code == 201, response.text
    record = response.json()
    assert record["recording_seq"] == 1 and record["programme_id"] == PROGRAMME

    by_cpr = await post(pair, {"cpr": CPR.replace("-", ""), "code": "employed", "valid_from": "2024-05-01"})
    assert by_cpr.status_code == 201
    assert by_cpr.json()["participant_id"] == pid and by_cpr.json()["recording_seq"] == 2
    assert "0707614285" not in by_cpr.text and "070761-4285" not in by_cpr.text

    events = [
        e for e in await outbox_events(pair.progression) if e.type == "dk.sib.progression.status.recorded.v1"
    ]
    assert [(e.data["recording_seq"], e.data["category"]) for e in events] == [
        (1, "public_support"),
        (2, "self_supporting"),
    ]
    assert all("0707614285" not in e.model_dump_json() for e in events)

    periods = await timeline(pair, pid)
    assert [(p["from"], p["to"], p["code"], p["category"]) for p in periods] == [
        ("2024-03-01", "2024-03-14", None, "unknown"),
        ("2024-03-15", "2024-04-30", "sygedagpenge", "public_support"),
        ("2024-05-01", None, "employed", "self_supporting"),
    ]


async def test_iso_week_records_cover_monday_to_sunday(pair: Pair) -> None:
    pid = await enrolled_participant(pair)
    response = await post(pair, {"participant_id": pid, "code": "sygedagpenge", "iso_week": "2024-W12"})
    assert response.status_code == 201
    assert (response.json()["valid_from"], response.json()["valid_to"]) == ("2024-03-18", "2024-03-24")


@pytest.mark.parametrize(
    ("body", "field", "says"),
    [
        ({"code": "lotto", "valid_from": "2024-04-01"}, "code", "sygedagpenge"),
        ({"code": "employed", "valid_from": "2024-04-02", "valid_to": "2024-04-01"}, "valid_to", "before"),
        ({"code": "employed"}, "iso_week", "valid_from"),
        ({"code": "employed", "iso_week": "2024-W99"}, "iso_week", ""),
        ({"code": "employed", "valid_from": "2024-04-01", "cpr": "0707614285"}, "cpr", "exactly one"),
    ],
)
async def test_bad_records_get_a_422_naming_the_field(
    pair: Pair, body: dict[str, Any], field: str, says: str
) -> None:
    pid = await enrolled_participant(pair)
    response = await post(pair, {"participant_id": pid} | body)
    assert response.status_code == 422
    error = next(e for e in response.json()["errors"] if e["field"] == field)
    assert says in error["message"]
    assert "0707614285" not in response.text


async def test_an_unknown_participant_is_a_422(pair: Pair) -> None:
    await enrolled_participant(pair)
    unknown = await post(
        pair,
        {
            "participant_id": "00000000-0000-0000-0000-000000000000",
            "code": "employed",
            "valid_from": "2024-04-01",
        },
    )
    assert unknown.status_code == 422 and unknown.json()["errors"][0]["field"] == "participant_id"
    stranger = await post(pair, {"cpr": "0101901234", "code": "employed", "valid_from": "2024-04-01"})
    assert stranger.status_code == 422 and stranger.json()["errors"][0]["field"] == "cpr"
    assert "0101901234" not in stranger.text


async def test_the_source_record_id_makes_a_retry_safe(pair: Pair) -> None:
    pid = await enrolled_participant(pair)
    body = {
        "participant_id": pid,
        "code": "sygedagpenge",
        "valid_from": "2024-03-15",
        "source_record_id": "KMD-77",
    }
    first, again = await post(pair, body), await post(pair, body)
    assert (first.status_code, again.status_code) == (201, 200)
    assert again.json()["record_id"] == first.json()["record_id"]
    other = await post(pair, body | {"code": "employed"})
    assert other.status_code == 409
    records = await pair.progression.get(f"/v1/participants/{pid}/status-records", headers=JOBCENTER)
    assert len(records.json()["items"]) == 1


async def test_concurrent_posts_share_group_commits_and_keep_their_own_outcome(pair: Pair) -> None:
    """Posts sent at once are stored in shared transactions by the group writer; each still gets its
    own answer: the same source id posted many times at once is stored once, a conflicting one is a
    409 for that post alone, an unknown participant a 422 alone, and sequence numbers stay unique."""
    pid = await enrolled_participant(pair)
    same = {"participant_id": pid, "code": "employed", "valid_from": "2024-06-01", "source_record_id": "S-1"}
    distinct = [
        {"participant_id": pid, "code": "sygedagpenge", "valid_from": f"2024-07-{day:02d}", "source_record_id": f"D-{day}"}
        for day in range(1, 21)
    ]  # fmt: skip
    unknown = {
        "participant_id": "00000000-0000-0000-0000-000000000000",
        "code": "employed",
        "valid_from": "2024-06-01",
    }
    responses = await asyncio.gather(
        *(post(pair, same) for _ in range(10)), *(post(pair, body) for body in distinct), post(pair, unknown)
    )
    same_answers, distinct_answers, unknown_answer = responses[:10], responses[10:30], responses[30]
    assert sorted(r.status_code for r in same_answers) == [200] * 9 + [201]
    assert len({r.json()["record_id"] for r in same_answers}) == 1
    assert [r.status_code for r in distinct_answers] == [201] * 20
    assert unknown_answer.status_code == 422 and "participant_id" in unknown_answer.text
    conflicting = await asyncio.gather(post(pair, same | {"code": "kontanthjaelp"}), post(pair, distinct[0]))
    assert [r.status_code for r in conflicting] == [409, 200]
    records = (await pair.progression.get(f"/v1/participants/{pid}/status-records", headers=JOBCENTER)).json()
    assert len(records["items"]) == 21
    assert sorted(r["recording_seq"] for r in records["items"]) == list(range(1, 22))


async def test_every_grouped_status_event_carries_its_own_requests_trace(pair: Pair, nats_url: str) -> None:
    """Requests written together by the group writer share a transaction, not a trace: 32 clients, each
    with its own W3C traceparent (half of them sampled), post records one by one and in a batch at
    once, and each status.recorded event, in its envelope and in its NATS headers, continues the trace
    of the request that caused it (its own span a child of that request's server span)."""
    pid = await enrolled_participant(pair)
    days = iter(range(2000))

    def record() -> dict[str, Any]:
        valid_from = date(2024, 4, 1) + timedelta(days=next(days))
        return {"participant_id": pid, "code": "sygedagpenge", "valid_from": valid_from.isoformat()}

    def trace_id(n: int) -> str:
        return f"{0x5EB0 + n:032x}"

    async def client(n: int) -> dict[str, tuple[str, str]]:
        sent = f"00-{trace_id(n)}-{0xC11E + n:016x}-0{n % 2}"
        headers = JOBCENTER | {"traceparent": sent}
        caused: dict[str, tuple[str, str]] = {}
        for _ in range(10):
            response = await post(pair, record(), headers)
            assert response.status_code == 201, response.text
            assert response.headers["X-Correlation-ID"] == trace_id(n)
            caused[response.json()["record_id"]] = (trace_id(n), sent[-2:])
        batch = {"records": [record() for _ in range(3)]}
        response = await pair.progression.post("/v1/status-records/batch", json=batch, headers=headers)
        assert response.status_code == 201, response.text
        caused |= {r["record_id"]: (trace_id(n), sent[-2:]) for r in response.json()["records"]}
        return caused

    caused: dict[str, tuple[str, str]] = {}
    for answers in await asyncio.gather(*(client(n) for n in range(32))):
        caused |= answers
    events = [
        e for e in await outbox_events(pair.progression) if e.type == "dk.sib.progression.status.recorded.v1"
    ]
    assert len(events) == len(caused) == 32 * 13
    wrong = [
        e
        for e in events
        if e.traceparent is None
        or (e.traceparent[3:35], e.traceparent[-2:]) != caused[e.data["record_id"]]
        or e.correlationid != e.traceparent[3:35]
        or int(e.traceparent[36:52], 16) - 0xC11E in range(32)  # the server's span, not the caller's
    ]
    assert wrong == [], f"{len(wrong)} of {len(events)} events carry another request's trace"
    by_id = {e.id: e for e in events}
    published = await stream_headers(pair, nats_url, "sib.progression.status.recorded.v1")
    assert published.keys() == by_id.keys()
    assert all(published[i].get("traceparent") == by_id[i].traceparent for i in by_id)


async def stream_headers(pair: Pair, nats_url: str, subject: str) -> dict[str, dict[str, str]]:
    """The NATS headers of every message on ``subject`` once the relay has published them all, by
    event id (read as the operator, who may read single messages of the stream)."""
    runtime = pair.progression.app.state.runtime

    async def published() -> bool:
        return not await runtime.relay.pending(limit=1)

    await eventually(published)
    settings = runtime.settings.model_copy(update={"nats_user": "operator"})
    operator = await nats.connect(nats_url, **connect_options(settings))
    found: dict[str, dict[str, str]] = {}
    try:
        js, seq = operator.jetstream(), 1
        while True:
            try:
                raw = await js.get_msg(settings.nats_stream, seq=seq, subject=subject, next=True)
            except nats.js.errors.NotFoundError:
                return found
            assert raw.data is not None and raw.seq is not None
            found[json.loads(raw.data)["id"]] = dict(raw.headers or {})
            seq = raw.seq + 1
    finally:
        await operator.close()


async def test_a_batch_is_all_or_nothing_and_names_each_bad_record(pair: Pair) -> None:
    pid = await enrolled_participant(pair)
    good = {
        "participant_id": pid,
        "code": "sygedagpenge",
        "valid_from": "2024-03-15",
        "valid_to": "2024-03-31",
    }
    bad = {
        "records": [
            good,
            good | {"code": "nope"},
            {
                "participant_id": "00000000-0000-0000-0000-000000000000",
                "code": "employed",
                "valid_from": "2024-04-01",
            },
            good | {"valid_to": "2024-01-01"},
        ]
    }
    response = await pair.progression.post("/v1/status-records/batch", json=bad, headers=JOBCENTER)
    assert response.status_code == 422
    fields = {e["field"] for e in response.json()["errors"]}
    assert {"records[1].code", "records[3].valid_to"} <= fields

    # The same unknown citizen twice, between records of a known one: each of its records is named.
    unknown = bad["records"][2]
    unknown_only = {"records": [good, unknown, good | {"code": "employed"}, unknown]}
    response = await pair.progression.post("/v1/status-records/batch", json=unknown_only, headers=JOBCENTER)
    assert response.status_code == 422
    assert [e["field"] for e in response.json()["errors"]] == [
        "records[1].participant_id",
        "records[3].participant_id",
    ]
    records = await pair.progression.get(f"/v1/participants/{pid}/status-records", headers=JOBCENTER)
    assert records.json()["items"] == []  # nothing of either batch was stored


async def test_a_large_batch_reads_back_as_answered_and_announced_in_order(pair: Pair) -> None:
    """A batch of COPY_FROM_ROWS records or more goes into the records and the outbox with COPY on
    PostgreSQL (an executemany on SQLite): the same rows, numbered, and their events in record order."""
    pid = await enrolled_participant(pair)
    other = await enrolled_participant(pair, cpr="010203-1234")
    size = COPY_FROM_ROWS + 20
    body = {
        "records": [
            {
                "participant_id": (pid, other)[n % 2],
                "code": ("sygedagpenge", "employed")[n % 3 == 0],
                "valid_from": (date(2024, 3, 18) + timedelta(days=n)).isoformat(),
                "valid_to": (date(2024, 3, 18) + timedelta(days=n)).isoformat(),
                "source_record_id": f"large-{n}",
            }
            for n in range(size)
        ]
    }
    before = len(await outbox_events(pair.progression))
    answer = await pair.progression.post("/v1/status-records/batch", json=body, headers=JOBCENTER)
    assert answer.status_code == 201, answer.text
    assert answer.json()["created"] == size
    answered = answer.json()["records"]
    assert [r["source_record_id"] for r in answered] == [f"large-{n}" for n in range(size)]
    stored = []
    for participant in (pid, other):
        listed = await pair.progression.get(
            f"/v1/participants/{participant}/status-records", headers=JOBCENTER
        )
        items = listed.json()["items"]
        assert [r["recording_seq"] for r in items] == list(range(1, size // 2 + 1))
        stored += items
    assert sorted(stored, key=lambda r: r["record_id"]) == sorted(answered, key=lambda r: r["record_id"])
    events = (await outbox_events(pair.progression))[before:]
    assert [e.data["record_id"] for e in events] == [r["record_id"] for r in answered]
    assert [(e.data["recording_seq"], e.data["valid_from"]) for e in events] == [
        (r["recording_seq"], r["valid_from"]) for r in answered
    ]


async def test_a_batch_retried_with_its_idempotency_key_is_stored_once(pair: Pair) -> None:
    pid = await enrolled_participant(pair)
    body = {
        "records": [
            {"participant_id": pid, "code": "sygedagpenge", "iso_week": f"2024-W{week:02d}"}
            for week in range(12, 30)
        ]
        + [{"cpr": CPR, "code": "employed", "valid_from": "2024-07-22"}]
    }
    key = {"Idempotency-Key": "batch-2024-07"}
    first = await pair.progression.post("/v1/status-records/batch", json=body, headers=JOBCENTER | key)
    assert first.status_code == 201, first.text
    assert first.json()["created"] == 19
    assert [r["recording_seq"] for r in first.json()["records"]] == list(range(1, 20))
    retry = await pair.progression.post("/v1/status-records/batch", json=body, headers=JOBCENTER | key)
    assert retry.status_code == 200
    assert retry.json()["records"] == first.json()["records"]
    changed = await pair.progression.post(
        "/v1/status-records/batch", json={"records": body["records"][:3]}, headers=JOBCENTER | key
    )
    assert changed.status_code == 422 and changed.json()["errors"][0]["field"] == "Idempotency-Key"
    records = await pair.progression.get(f"/v1/participants/{pid}/status-records", headers=JOBCENTER)
    assert len(records.json()["items"]) == 19
    events = [e for e in await outbox_events(pair.progression) if e.type.endswith("status.recorded.v1")]
    assert len(events) == 19


async def test_the_cutoff_turns_gaps_self_supporting_and_only_moves_forward(pair: Pair) -> None:
    pid = await enrolled_participant(pair)
    await post(
        pair,
        {"participant_id": pid, "code": "sygedagpenge", "valid_from": "2024-03-15", "valid_to": "2024-04-14"},
    )
    url = f"/v1/programmes/{PROGRAMME}/data-cutoff"
    before_cutoff = await timeline(pair, pid)
    assert before_cutoff[-1] == {
        "from": "2024-04-15",
        "to": None,
        "code": None,
        "category": "unknown",
        "record_id": None,
    }

    moved = await pair.progression.put(url, json={"complete_through": "2024-05-31"}, headers=JOBCENTER)
    assert moved.status_code == 200, moved.text
    assert moved.json()["complete_through"] == "2024-05-31" and moved.json()["previous"] is None
    assert (
        await pair.progression.put(url, json={"complete_through": "2024-05-31"}, headers=JOBCENTER)
    ).status_code == 200
    back = await pair.progression.put(url, json={"complete_through": "2024-04-30"}, headers=JOBCENTER)
    assert back.status_code == 409
    assert (
        await pair.progression.put(url, json={"complete_through": "2024-06-30"}, headers=PROVIDER)
    ).status_code == 403

    periods = await timeline(pair, pid)
    assert [(p["from"], p["to"], p["category"]) for p in periods[-2:]] == [
        ("2024-04-15", "2024-05-31", "self_supporting"),
        ("2024-06-01", None, "unknown"),
    ]
    # As known at the moment the cut-off moved, and long before anything was recorded.
    assert await timeline(pair, pid, as_of=moved.json()["recorded_at"]) == periods
    earlier = await timeline(pair, pid, as_of="2000-01-01T00:00:00Z")
    assert [p["category"] for p in earlier] == ["unknown"]
    events = [e for e in await outbox_events(pair.progression) if e.type.endswith("cutoff.advanced.v1")]
    assert [e.data["complete_through"] for e in events] == ["2024-05-31"]


async def test_as_of_shows_the_timeline_before_a_correction(pair: Pair) -> None:
    pid = await enrolled_participant(pair)
    first = await post(
        pair,
        {"participant_id": pid, "code": "sygedagpenge", "valid_from": "2024-03-15", "valid_to": "2024-05-31"},
    )
    correction = await post(
        pair,
        {"participant_id": pid, "code": "employed", "valid_from": "2024-05-01", "valid_to": "2024-05-31"},
    )
    now = await timeline(pair, pid)
    assert [p["code"] for p in now if p["code"]] == ["sygedagpenge", "employed"]
    then = await timeline(pair, pid, as_of=first.json()["recorded_at"])
    assert [p["code"] for p in then if p["code"]] == ["sygedagpenge"]
    assert correction.json()["recording_seq"] == 2
    naive = await pair.progression.get(
        f"/v1/participants/{pid}/timeline", params={"as_of": "2024-05-01T00:00:00"}, headers=JOBCENTER
    )
    assert naive.status_code == 422 and naive.json()["errors"][0]["field"] == "as_of"


async def test_measurements_and_milestones_of_the_provider(pair: Pair) -> None:
    pid = await enrolled_participant(pair)
    indicators = {
        "attendance_stability": 4, "personal_resources": 4, "coping": 3, "motivation": 5,
        "takes_responsibility": 6, "active_participation": 6, "open_to_change": 5, "goal_focus": 5,
        "self_insight": 2, "sees_new_opportunities": 3, "labour_market_focus": 2, "realistic_about_future": 3,
    }  # fmt: skip
    url = f"/v1/participants/{pid}/measurements"
    first = await pair.progression.post(
        url, json={"measured_on": "2024-03-20", "scores": indicators}, headers=PROVIDER
    )
    assert first.status_code == 201, first.text
    assert first.json()["group_averages"] == {"development": 4.0, "empowerment": 5.5, "future": 2.5}
    later = {k: min(v + 2, 10) for k, v in indicators.items()}
    await pair.progression.post(url, json={"measured_on": "2024-09-20", "scores": later}, headers=PROVIDER)
    listed = await pair.progression.get(url, headers=JOBCENTER)
    assert listed.json()["change_since_first"] == {"development": 2.0, "empowerment": 2.0, "future": 2.0}
    assert [m["measured_on"] for m in listed.json()["items"]] == ["2024-03-20", "2024-09-20"]

    missing = dict(indicators)
    missing.pop("coping")
    bad = await pair.progression.post(
        url, json={"measured_on": "2024-03-20", "scores": missing}, headers=PROVIDER
    )
    assert bad.status_code == 422 and "coping" in bad.json()["errors"][0]["message"]
    out_of_range = await pair.progression.post(
        url, json={"measured_on": "2024-03-20", "scores": indicators | {"coping": 11}}, headers=PROVIDER
    )
    assert out_of_range.status_code == 422 and out_of_range.json()["errors"][0]["field"] == "scores.coping"
    assert (
        await pair.progression.post(
            url, json={"measured_on": "2024-03-20", "scores": indicators}, headers=JOBCENTER
        )
    ).status_code == 403

    milestone_url = f"/v1/participants/{pid}/milestones"
    made = await pair.progression.post(
        milestone_url, json={"kind": "job_start", "on": "2024-10-01", "note": "Fuldtid"}, headers=PROVIDER
    )
    assert made.status_code == 201
    listed_milestones = await pair.progression.get(milestone_url, headers=PROVIDER)
    assert [(m["kind"], m["note"]) for m in listed_milestones.json()["items"]] == [("job_start", "Fuldtid")]
    [event] = [e for e in await outbox_events(pair.progression) if e.type.endswith("milestone.recorded.v1")]
    assert "note" not in event.data and event.data["kind"] == "job_start"
    assert (
        await pair.progression.get(milestone_url, headers=auth(Role.investor, PROGRAMME))
    ).status_code == 403


async def test_status_codes_are_listed_with_danish_names(pair: Pair) -> None:
    response = await pair.progression.get("/v1/status-codes", headers=auth(Role.integrator))
    codes = {c["code"]: c for c in response.json()["items"]}
    assert len(codes) == 16
    assert codes["jobafklaring"]["danish_name"].startswith("jobafklaringsforløb")
    assert codes["education"]["default_category"] == "self_supporting"


async def test_programme_remapping_reaches_progression(pair: Pair) -> None:
    pid = await enrolled_participant(pair)
    leave = {"participant_id": pid, "code": "barselsdagpenge"}
    before = await post(pair, leave | {"valid_from": "2024-04-01", "valid_to": "2024-04-30"})
    assert before.status_code == 201, before.text
    terms = copy.deepcopy(SEED["terms"]) | {"status_categories": {"barselsdagpenge": "self_supporting"}}
    published = await pair.intake.post(
        f"/v1/programmes/{PROGRAMME}/terms",
        json={"effective_from": "2025-01-01", "terms": terms},
        headers=ADMIN,
    )
    assert published.status_code == 201

    async def remapped() -> bool:
        body = (await pair.progression.get(f"/v1/programmes/{PROGRAMME}", headers=ADMIN)).json()
        return bool(
            body["terms_version"] == 2 and body["status_categories"]["barselsdagpenge"] == "self_supporting"
        )

    await eventually(remapped)
    # Each event carries the category in force when its record was made (DOMAIN.md: remappable codes),
    # one record alone and in a batch alike.
    after = await post(pair, leave | {"valid_from": "2024-05-01", "valid_to": "2024-05-31"})
    batch = await pair.progression.post(
        "/v1/status-records/batch",
        json={"records": [leave | {"valid_from": "2024-06-01", "valid_to": "2024-06-30"}]},
        headers=JOBCENTER,
    )
    assert after.status_code == 201 and batch.status_code == 201, batch.text
    categories = {
        e.data["record_id"]: e.data["category"]
        for e in await outbox_events(pair.progression)
        if e.type.endswith("status.recorded.v1")
    }
    assert [
        categories[before.json()["record_id"]],
        categories[after.json()["record_id"]],
        categories[batch.json()["records"][0]["record_id"]],
    ] == ["public_support", "self_supporting", "self_supporting"]
