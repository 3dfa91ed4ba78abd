"""Intake's participant routes: referral, enrolment within capacity, withdrawal, coach, reads, lookup,
and the CPR audit trail; real database (SQLite and PostgreSQL) and real nats-server."""

from __future__ import annotations

import asyncio
import copy
import json
from typing import Any

import pytest
from sqlalchemy import inspect, text
from sqlalchemy.exc import DBAPIError

from libs.common.auth import Role
from tests.integration.conftest import SEED, ServiceClient, auth, outbox_events

PROGRAMME = "hedensted-2022"
CPR_A = "010190-1234"  # synthetic; fails modulus 11, which is allowed
CPR_B = "0202851235"
CPR_C = "030303-4000"

JOBCENTER = auth(Role.jobcenter, PROGRAMME, subject="jobcenter-hedensted")
PROVIDER = auth(Role.provider, PROGRAMME, subject="provider-marselisborg")
ADMIN = auth(Role.admin, subject="ops")


async def make_programme(client: ServiceClient, tracks: dict[str, int] | None = None) -> None:
    body = copy.deepcopy(SEED)
    if tracks is not None:
        body["terms"]["tracks"] = tracks
        body["terms"]["control_baseline_weeks"] = {}
    response = await client.post("/v1/programmes", json=body, headers=ADMIN)
    assert response.status_code == 201, response.text


async def refer(client: ServiceClient, cpr: str, track: str = "sygedagpenge", **extra: Any) -> Any:
    body = {"programme_id": PROGRAMME, "cpr": cpr, "track": track, "referred_on": "2024-03-01"} | extra
    return await client.post("/v1/participants", json=body, headers=JOBCENTER)


async def enrol(
    client: ServiceClient, participant_id: str, on: str = "2024-03-15", consent: str = "2024-03-10"
) -> Any:
    return await client.post(
        f"/v1/participants/{participant_id}/enrolment",
        json={"enrolled_on": on, "consent_given_on": consent},
        headers=JOBCENTER,
    )


async def test_referral_stores_the_citizen_and_announces_neither_the_cpr_nor_its_pseudonym(
    intake: ServiceClient,
) -> None:
    await make_programme(intake)
    response = await refer(intake, CPR_A, coach_name="Mette")
    assert response.status_code == 201, response.text
    body = response.json()
    assert body["status"] == "referred"
    assert body["cpr_masked"] == "******-****"
    assert body["cpr"] == "010190-1234"  # the jobcenter sees the number it sent
    assert body["coach_name"] == "Mette"

    referred = [e for e in await outbox_events(intake) if e.type == "dk.sib.intake.participant.referred.v2"]
    assert len(referred) == 1
    data = referred[0].data
    assert data == {
        "participant_id": body["participant_id"],
        "programme_id": PROGRAMME,
        "track": "sygedagpenge",
        "referred_on": "2024-03-01",
    }
    assert (
        "0101901234" not in referred[0].model_dump_json()
        and "010190-1234" not in referred[0].model_dump_json()
    )

    async with intake.app.state.database.sessionmaker() as session:
        stored = (await session.execute(text("SELECT cpr_encrypted, cpr_pseudonym FROM participants"))).one()
    assert "0101901234" not in stored[0] and "010190-1234" not in stored[0]  # encrypted at rest
    assert len(stored[1]) == 64  # the pseudonym stays here, for intake's own lookups


async def test_the_same_citizen_twice_in_a_programme_is_a_conflict_naming_the_participant(
    intake: ServiceClient,
) -> None:
    await make_programme(intake)
    first = (await refer(intake, CPR_A)).json()
    for spelling in (CPR_A, CPR_A.replace("-", ""), f"  {CPR_A} "):
        again = await refer(intake, spelling, track="jobafklaring")
        assert again.status_code == 409
        assert again.json()["participant_id"] == first["participant_id"]
        # The number's serial part nowhere in the problem; the random ids beside it (correlation id,
        # participant id) may hold any four digits, so they are left out of the check.
        problem = {k: v for k, v in again.json().items() if k not in ("correlation_id", "participant_id")}
        assert "1234" not in json.dumps(problem)


async def test_an_idempotency_key_replays_the_first_referral(intake: ServiceClient) -> None:
    await make_programme(intake)
    body = {"programme_id": PROGRAMME, "cpr": CPR_B, "track": "sygedagpenge", "referred_on": "2024-03-01"}
    key = {"Idempotency-Key": "referral-0001"}
    first = await intake.post("/v1/participants", json=body, headers=JOBCENTER | key)
    retry = await intake.post("/v1/participants", json=body, headers=JOBCENTER | key)
    assert (first.status_code, retry.status_code) == (201, 201)
    assert retry.json()["participant_id"] == first.json()["participant_id"]
    other = await intake.post(
        "/v1/participants", json=body | {"track": "jobafklaring"}, headers=JOBCENTER | key
    )
    assert other.status_code == 422
    assert other.json()["errors"][0]["field"] == "Idempotency-Key"
    assert len([e for e in await outbox_events(intake) if e.type.endswith("participant.referred.v2")]) == 1


@pytest.mark.parametrize(
    ("cpr", "says"),
    [
        ("12345", "10 digits"),
        ("3102901234", "date"),
        ("2902011234", "date"),  # 1901 was no leap year
        ("abcdefghij", "10 digits"),
    ],
)
async def test_an_invalid_cpr_gets_a_422_that_does_not_echo_it(
    intake: ServiceClient, cpr: str, says: str
) -> None:
    await make_programme(intake)
    response = await refer(intake, cpr)
    assert response.status_code == 422
    problem = response.json()
    assert problem["errors"][0]["field"] == "cpr"
    assert says in problem["errors"][0]["message"]
    assert cpr not in response.text and cpr[:6] not in response.text


async def test_referral_checks_programme_track_and_scope(intake: ServiceClient) -> None:
    await make_programme(intake)
    unknown_track = await refer(intake, CPR_A, track="nope")
    assert unknown_track.status_code == 422 and unknown_track.json()["errors"][0]["field"] == "track"
    unknown_programme = await intake.post(
        "/v1/participants",
        json={"programme_id": "nowhere-2030", "cpr": CPR_A, "track": "x", "referred_on": "2024-03-01"},
        headers=auth(Role.jobcenter, "nowhere-2030"),
    )
    assert unknown_programme.status_code == 422
    assert unknown_programme.json()["errors"][0]["field"] == "programme_id"
    other_jobcenter = await intake.post(
        "/v1/participants",
        json={"programme_id": PROGRAMME, "cpr": CPR_A, "track": "sygedagpenge", "referred_on": "2024-03-01"},
        headers=auth(Role.jobcenter, "aarhus-2025"),
    )
    assert other_jobcenter.status_code == 403


async def test_enrolment_needs_consent_and_ordered_dates_and_is_safe_to_retry(intake: ServiceClient) -> None:
    await make_programme(intake)
    pid = (await refer(intake, CPR_A)).json()["participant_id"]
    url = f"/v1/participants/{pid}/enrolment"

    missing = await intake.post(url, json={"enrolled_on": "2024-03-15"}, headers=JOBCENTER)
    assert missing.status_code == 422 and missing.json()["errors"][0]["field"] == "consent_given_on"
    late_consent = await enrol(intake, pid, on="2024-03-15", consent="2024-03-16")
    assert late_consent.status_code == 422 and late_consent.json()["errors"][0]["field"] == "consent_given_on"
    before_referral = await enrol(intake, pid, on="2024-02-15", consent="2024-02-10")
    assert (
        before_referral.status_code == 422 and before_referral.json()["errors"][0]["field"] == "enrolled_on"
    )

    enrolled = await enrol(intake, pid)
    assert enrolled.status_code == 200, enrolled.text
    assert enrolled.json()["status"] == "enrolled" and enrolled.json()["enrolled_on"] == "2024-03-15"
    assert (await enrol(intake, pid)).json() == enrolled.json()
    assert (await enrol(intake, pid, on="2024-03-20")).status_code == 409

    events = [e for e in await outbox_events(intake) if e.type == "dk.sib.intake.participant.enrolled.v2"]
    assert len(events) == 1  # the retry announced nothing
    assert (
        events[0].data["enrolled_on"] == "2024-03-15" and events[0].data["consent_given_on"] == "2024-03-10"
    )


async def test_capacity_counts_enrolled_citizens_not_referrals(intake: ServiceClient) -> None:
    await make_programme(intake, tracks={"sygedagpenge": 5, "jobafklaring": 1})
    first = (await refer(intake, CPR_A, track="jobafklaring")).json()["participant_id"]
    second = (await refer(intake, CPR_B, track="jobafklaring")).json()[
        "participant_id"
    ]  # referral beyond capacity: fine
    assert (await enrol(intake, first)).status_code == 200
    full = await enrol(intake, second)
    assert full.status_code == 409
    assert full.json()["track"] == "jobafklaring" and full.json()["capacity"] == 1
    # The other track is unaffected.
    third = (await refer(intake, CPR_C, track="sygedagpenge")).json()["participant_id"]
    assert (await enrol(intake, third)).status_code == 200


async def test_the_seats_kept_per_track_are_the_enrolled_citizens(intake: ServiceClient) -> None:
    """Each enrolment takes one seat of its track (a retry none, a refusal none), as counting the
    enrolled citizens would say."""
    await make_programme(intake, tracks={"sygedagpenge": 3, "jobafklaring": 2})
    syge = [(await refer(intake, cpr)).json()["participant_id"] for cpr in (CPR_A, CPR_B, CPR_C)]
    jobafklaring = [
        (await refer(intake, cpr, track="jobafklaring")).json()["participant_id"]
        for cpr in ("050505-5001", "060606-6001", "070707-7001")
    ]
    # A retry of the first, and one too many on jobafklaring.
    answers = [(await enrol(intake, pid)).status_code for pid in [syge[0], syge[1], syge[0], *jobafklaring]]
    assert answers == [200, 200, 200, 200, 200, 409]
    database = intake.app.state.database
    async with database.sessionmaker() as session:
        kept = dict(
            (await session.execute(text("SELECT track, taken FROM track_seats ORDER BY track"))).all()
        )
        counted = dict(
            (
                await session.execute(
                    text(
                        "SELECT track, COUNT(*) FROM participants WHERE enrolled_on IS NOT NULL "
                        "GROUP BY track ORDER BY track"
                    )
                )
            ).all()
        )
    assert kept == counted == {"jobafklaring": 2, "sygedagpenge": 2}


async def test_two_concurrent_enrolments_for_the_last_seat_exactly_one_wins(intake: ServiceClient) -> None:
    await make_programme(intake, tracks={"sygedagpenge": 5, "jobafklaring": 1})
    a = (await refer(intake, CPR_A, track="jobafklaring")).json()["participant_id"]
    b = (await refer(intake, CPR_B, track="jobafklaring")).json()["participant_id"]
    results = await asyncio.gather(enrol(intake, a), enrol(intake, b))
    assert sorted(r.status_code for r in results) == [200, 409]
    listed = await intake.get("/v1/participants", params={"status": "enrolled"}, headers=JOBCENTER)
    assert len(listed.json()["items"]) == 1


async def test_withdrawal_ends_participation_and_keeps_the_seat(intake: ServiceClient) -> None:
    await make_programme(intake, tracks={"sygedagpenge": 1})
    pid = (await refer(intake, CPR_A)).json()["participant_id"]
    await enrol(intake, pid)
    url = f"/v1/participants/{pid}/withdrawal"
    too_early = await intake.post(
        url, json={"effective_on": "2024-03-01", "reason": "moved_away"}, headers=JOBCENTER
    )
    assert too_early.status_code == 422 and too_early.json()["errors"][0]["field"] == "effective_on"
    bad_reason = await intake.post(
        url, json={"effective_on": "2024-06-01", "reason": "bored"}, headers=JOBCENTER
    )
    assert bad_reason.status_code == 422 and bad_reason.json()["errors"][0]["field"] == "reason"

    withdrawn = await intake.post(
        url, json={"effective_on": "2024-06-01", "reason": "moved_away"}, headers=JOBCENTER
    )
    assert withdrawn.status_code == 200
    assert withdrawn.json()["status"] == "withdrawn" and withdrawn.json()["withdrawn_on"] == "2024-06-01"
    retry = await intake.post(
        url, json={"effective_on": "2024-06-01", "reason": "moved_away"}, headers=JOBCENTER
    )
    assert retry.status_code == 200
    assert (
        await intake.post(url, json={"effective_on": "2024-07-01", "reason": "other"}, headers=JOBCENTER)
    ).status_code == 409
    assert (await enrol(intake, pid)).status_code == 409

    # Intention to treat: the withdrawn citizen keeps the seat.
    newcomer = (await refer(intake, CPR_B)).json()["participant_id"]
    assert (await enrol(intake, newcomer)).status_code == 409

    [event] = [e for e in await outbox_events(intake) if e.type == "dk.sib.intake.participant.withdrawn.v2"]
    assert event.data["effective_on"] == "2024-06-01" and event.data["reason"] == "moved_away"
    assert event.data["enrolled_on"] == "2024-03-15"


async def test_the_provider_sees_masked_cpr_in_its_programmes_only(intake: ServiceClient) -> None:
    await make_programme(intake)
    pid = (await refer(intake, CPR_A)).json()["participant_id"]

    as_jobcenter = await intake.get(f"/v1/participants/{pid}", headers=JOBCENTER)
    assert as_jobcenter.json()["cpr"] == CPR_A
    as_provider = await intake.get(f"/v1/participants/{pid}", headers=PROVIDER)
    assert as_provider.status_code == 200
    assert as_provider.json()["cpr"] is None and as_provider.json()["cpr_masked"] == "******-****"
    # The whole number in either form (four digits alone may turn up in an id or a timestamp).
    assert "0101901234" not in as_provider.text and "010190-1234" not in as_provider.text
    listed = await intake.get("/v1/participants", params={"programme_id": PROGRAMME}, headers=PROVIDER)
    assert [p["cpr"] for p in listed.json()["items"]] == [None]

    elsewhere = auth(Role.provider, "aarhus-2025")
    assert (await intake.get(f"/v1/participants/{pid}", headers=elsewhere)).status_code == 404
    assert (await intake.get("/v1/participants", headers=elsewhere)).json()["items"] == []

    coach = await intake.put(f"/v1/participants/{pid}/coach", json={"coach_name": "Jonas"}, headers=PROVIDER)
    assert coach.status_code == 200 and coach.json()["coach_name"] == "Jonas" and coach.json()["cpr"] is None


async def test_the_masked_form_reveals_nothing_of_the_number_to_anyone_but_the_jobcenter(
    intake: ServiceClient,
) -> None:
    await make_programme(intake)
    pid = (await refer(intake, CPR_A)).json()["participant_id"]
    for headers in (PROVIDER, ADMIN, auth(Role.admin, subject="svc-progression")):
        one = (await intake.get(f"/v1/participants/{pid}", headers=headers)).json()
        listed = (await intake.get("/v1/participants", headers=headers)).json()["items"]
        for shown in (one, *listed):
            assert shown["cpr"] is None and shown["cpr_masked"] == "******-****"
        for text_ in (str(one), str(listed)):
            assert "010190" not in text_ and "1990-01-01" not in text_  # no birth date, in any spelling
    async with intake.app.state.database.sessionmaker() as session:
        columns = {
            c["name"]
            for c in await session.run_sync(lambda s: inspect(s.connection()).get_columns("participants"))
        }
    assert "cpr_masked" not in columns  # the birth date is not kept beside the encrypted number either


async def test_a_cpr_token_copied_onto_another_participants_row_does_not_decrypt(
    intake: ServiceClient, caplog: pytest.LogCaptureFixture
) -> None:
    await make_programme(intake)
    first = (await refer(intake, CPR_A)).json()["participant_id"]
    second = (await refer(intake, CPR_B)).json()["participant_id"]
    async with intake.app.state.database.sessionmaker() as session:
        tokens = dict(
            (await session.execute(text("SELECT participant_id, cpr_encrypted FROM participants"))).all()
        )
        for pid, other in ((first, second), (second, first)):
            await session.execute(
                text("UPDATE participants SET cpr_encrypted = :token WHERE participant_id = :pid"),
                {"token": tokens[other], "pid": pid},
            )
        await session.commit()
    for pid in (first, second):
        response = await intake.get(f"/v1/participants/{pid}", headers=JOBCENTER)
        assert response.status_code == 409, response.text
        assert response.headers["content-type"] == "application/problem+json"
        assert response.json()["participant_id"] == pid
        # Neither number, in either form (a four-digit tail alone may turn up inside a random id).
        for number in ("0101901234", "010190-1234", "0202851235", "020285-1235"):
            assert number not in response.text
    assert "cpr_token_refused" in caplog.text
    assert "0101901234" not in caplog.text and "0202851235" not in caplog.text


async def test_listing_filters_and_pages_with_a_cursor(intake: ServiceClient) -> None:
    await make_programme(intake)
    ids = [(await refer(intake, cpr)).json()["participant_id"] for cpr in (CPR_A, CPR_B, CPR_C)]
    await enrol(intake, ids[0])
    seen: list[str] = []
    cursor = None
    for _ in range(5):
        params: dict[str, Any] = {"limit": 2} | ({"cursor": cursor} if cursor else {})
        page = (await intake.get("/v1/participants", params=params, headers=JOBCENTER)).json()
        seen += [p["participant_id"] for p in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert sorted(seen) == sorted(ids)
    enrolled = await intake.get("/v1/participants", params={"status": "enrolled"}, headers=JOBCENTER)
    assert [p["participant_id"] for p in enrolled.json()["items"]] == [ids[0]]
    bad = await intake.get("/v1/participants", params={"cursor": "%%%"}, headers=JOBCENTER)
    assert bad.status_code == 422 and bad.json()["errors"][0]["field"] == "cursor"


async def test_lookup_by_cpr_in_the_body_and_every_cpr_access_is_audited_for_admin_jobcenter_and_auditor(
    intake: ServiceClient,
) -> None:
    await make_programme(intake)
    pid = (await refer(intake, CPR_A)).json()["participant_id"]
    found = await intake.post(
        "/v1/participants/lookup", json={"cpr": CPR_A.replace("-", "")}, headers=JOBCENTER
    )
    assert [p["participant_id"] for p in found.json()["items"]] == [pid]
    none = await intake.post("/v1/participants/lookup", json={"cpr": CPR_B}, headers=JOBCENTER)
    assert none.json()["items"] == []
    await intake.get(f"/v1/participants/{pid}", headers=JOBCENTER)
    await intake.get(f"/v1/participants/{pid}", headers=PROVIDER)  # masked: not a CPR read

    trail = (await intake.get("/v1/audit", headers=ADMIN)).json()["items"]
    assert [(e["action"], e["endpoint"], e["participant_id"]) for e in trail] == [
        ("write", "POST /v1/participants", pid),
        ("lookup", "POST /v1/participants/lookup", pid),
        ("lookup", "POST /v1/participants/lookup", None),
        ("read", "GET /v1/participants/{participant_id}", pid),
    ]
    assert {e["actor"] for e in trail} == {"jobcenter-hedensted"}
    assert all(e["correlation_id"] for e in trail)
    # The programme's jobcenter and an auditor read its participants' rows; nobody else's, no provider.
    mine = [e for e in trail if e["participant_id"] == pid]
    auditor = auth(Role.auditor, PROGRAMME)
    for headers in (JOBCENTER, auditor):
        assert (await intake.get("/v1/audit", params={"programme_id": PROGRAMME}, headers=headers)).json()[
            "items"
        ] == mine
        assert (await intake.get("/v1/audit", headers=headers)).json()["items"] == mine
    elsewhere = auth(Role.jobcenter, "another-programme")
    assert (await intake.get("/v1/audit", headers=elsewhere)).json()["items"] == []
    assert (
        await intake.get("/v1/audit", params={"programme_id": PROGRAMME}, headers=elsewhere)
    ).status_code == 403
    assert (await intake.get("/v1/audit", headers=PROVIDER)).status_code == 403


async def test_the_audit_table_is_append_only(intake: ServiceClient) -> None:
    await make_programme(intake)
    await refer(intake, CPR_A)
    for statement in ("UPDATE cpr_audit SET actor = 'someone else'", "DELETE FROM cpr_audit"):
        with pytest.raises(DBAPIError, match="append-only"):
            async with intake.app.state.database.sessionmaker() as session:
                await session.execute(text(statement))
                await session.commit()
    trail = (await intake.get("/v1/audit", headers=ADMIN)).json()["items"]
    assert len(trail) == 1 and trail[0]["actor"] == "jobcenter-hedensted"


async def test_a_new_terms_version_is_published_and_announced(intake: ServiceClient) -> None:
    await make_programme(intake)
    await refer(intake, CPR_A, track="jobafklaring")
    terms = copy.deepcopy(SEED["terms"]) | {"fee_per_month_dkk": "3800"}
    url = f"/v1/programmes/{PROGRAMME}/terms"
    published = await intake.post(url, json={"effective_from": "2025-01-01", "terms": terms}, headers=ADMIN)
    assert published.status_code == 201, published.text
    assert published.json()["current"]["version"] == 2
    assert [v["version"] for v in published.json()["versions"]] == [1, 2]
    assert published.json()["versions"][0]["terms"]["fee_per_month_dkk"] == "3500.00"  # never edited
    again = await intake.post(url, json={"effective_from": "2025-01-01", "terms": terms}, headers=ADMIN)
    assert again.status_code == 200 and again.json()["current"]["version"] == 2

    backdated = await intake.post(url, json={"effective_from": "2022-01-01", "terms": terms}, headers=ADMIN)
    assert backdated.status_code == 422 and backdated.json()["errors"][0]["field"] == "effective_from"
    dropped = copy.deepcopy(terms)
    dropped["tracks"] = {"sygedagpenge": 120}
    dropped["control_baseline_weeks"] = {"sygedagpenge": "52"}
    refused = await intake.post(url, json={"effective_from": "2026-01-01", "terms": dropped}, headers=ADMIN)
    assert refused.status_code == 422 and refused.json()["errors"][0]["field"] == "terms.tracks"
    assert (
        await intake.post(url, json={"effective_from": "2026-01-01", "terms": terms}, headers=JOBCENTER)
    ).status_code == 403

    versions = [
        e.data["version"] for e in await outbox_events(intake) if e.type.endswith("terms_published.v1")
    ]
    assert versions == [1, 2]
