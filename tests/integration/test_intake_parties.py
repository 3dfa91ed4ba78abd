"""A programme's parties on intake: published as versions (never edited), identifiers checked with
their own rules (a 422 names the field and never repeats the value), a retry answered with the version
it repeats, and bank accounts shown whole only to the jobcenter and admin."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest

from libs.common.auth import Role
from libs.simulator.jobcenter import seed_parties
from services.intake.domain import PartiesVersion
from services.intake.repository import PartiesRepository
from tests.integration.conftest import SEED, ServiceClient, auth, outbox_events

PROGRAMME = SEED["programme_id"]
PARTIES = f"/v1/programmes/{PROGRAMME}/parties"
PARTIES_EVENT = "dk.sib.intake.programme.parties_published.v1"
# A second made-up Danish account and IBAN (valid check digits) for changes of account.
OTHER_IBAN = "DK3852950001234567"


async def setup(client: ServiceClient) -> None:
    assert (await client.post("/v1/programmes", json=SEED, headers=auth(Role.admin))).status_code == 201


async def publish(client: ServiceClient, body: dict[str, Any], role: Role = Role.jobcenter) -> Any:
    return await client.post(PARTIES, json=body, headers=auth(role, PROGRAMME, subject=f"{role.value}-1"))


def parties_events(events: list[Any]) -> list[Any]:
    return [e for e in events if e.type == PARTIES_EVENT]


async def test_the_jobcenter_publishes_the_parties_normalised_and_they_are_announced(
    intake: ServiceClient,
) -> None:
    await setup(intake)
    response = await publish(intake, seed_parties())
    assert response.status_code == 201, response.text
    body = response.json()
    assert body["current"]["version"] == 1
    assert body["current"]["recorded_by"] == "jobcenter-1"
    # The IBAN is kept in its electronic form, the Danish account number padded to ten digits.
    assert body["current"]["investor"]["bank_account"]["iban"] == "DK8030000012345678"
    assert body["current"]["provider"]["bank_account"] == {
        "iban": None,
        "bic": None,
        "reg_no": "5295",
        "account_no": "0001234567",
    }
    assert body["current"]["municipality"]["gln"] == "5798000000018"
    [event] = parties_events(await outbox_events(intake))
    assert event.subject == f"programme/{PROGRAMME}"
    assert event.data["version"] == 1
    assert event.data["effective_from"] == "2022-09-01"
    assert event.data["parties"]["investor"]["bank_account"]["iban"] == "DK8030000012345678"


def _one_digit_changed(number: str) -> str:
    return number[:-1] + str((int(number[-1]) + 1) % 10)


@pytest.mark.parametrize(
    ("change", "field"),
    [
        (lambda b: b["provider"].update(cvr=_one_digit_changed(b["provider"]["cvr"])), "provider.cvr"),
        (
            lambda b: b["municipality"].update(cvr=_one_digit_changed(b["municipality"]["cvr"])),
            "municipality.cvr",
        ),
        (
            lambda b: b["municipality"].update(gln=_one_digit_changed(b["municipality"]["gln"])),
            "municipality.gln",
        ),
        (
            lambda b: b["investor"]["bank_account"].update(iban="DK8030000012345679"),
            "investor.bank_account.iban",
        ),
        (lambda b: b["investor"]["bank_account"].update(bic="not a bic"), "investor.bank_account.bic"),
        (lambda b: b["provider"]["bank_account"].update(reg_no="529"), "provider.bank_account.reg_no"),
        (
            lambda b: b["provider"]["bank_account"].update(iban=OTHER_IBAN),
            "provider.bank_account",
        ),
        (lambda b: b["provider"].update(bank_account={}), "provider.bank_account"),
        (lambda b: b["provider"]["bank_account"].pop("account_no"), "provider.bank_account"),
        (lambda b: b["investor"].pop("bank_account"), "investor.bank_account"),
        (lambda b: b["provider"].update(name="   "), "provider.name"),
        (lambda b: b.pop("effective_from"), "effective_from"),
    ],
    ids=[
        "cvr-digit-changed",
        "municipality-cvr",
        "gln-digit-changed",
        "iban-digit-changed",
        "bic",
        "reg-no",
        "both-kinds-of-account",
        "neither-kind-of-account",
        "reg-no-without-account-no",
        "no-bank-account",
        "blank-name",
        "no-effective-from",
    ],
)
async def test_a_field_breaking_its_rule_gets_a_422_naming_it_without_its_value_and_nothing_is_written(
    intake: ServiceClient, change: Any, field: str
) -> None:
    await setup(intake)
    body = seed_parties()
    change(body)
    response = await publish(intake, body)
    assert response.status_code == 422, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert [e["field"] for e in response.json()["errors"]] == [field]
    sent = body
    for party in ("municipality", "provider", "investor"):
        for key in ("cvr", "gln"):
            value = sent.get(party, {}).get(key)
            if value:
                assert value not in response.text
    for account in (
        sent.get("provider", {}).get("bank_account"),
        sent.get("investor", {}).get("bank_account"),
    ):
        for key in ("iban", "account_no"):
            if account and account.get(key):
                assert account[key] not in response.text
    assert parties_events(await outbox_events(intake)) == []
    assert (await intake.get(PARTIES, headers=auth(Role.admin))).json()["versions"] == []


async def test_a_change_of_bank_account_is_version_2_and_version_1_stays_as_it_was(
    intake: ServiceClient,
) -> None:
    await setup(intake)
    first = (await publish(intake, seed_parties())).json()["current"]
    changed = seed_parties() | {"effective_from": "2024-01-01"}
    changed["investor"]["bank_account"] = {"iban": OTHER_IBAN}
    response = await publish(intake, changed, Role.admin)
    assert response.status_code == 201, response.text
    body = response.json()
    assert body["current"]["version"] == 2
    assert body["current"]["investor"]["bank_account"]["iban"] == OTHER_IBAN
    assert [v["version"] for v in body["versions"]] == [1, 2]
    assert body["versions"][0] == first
    read = (await intake.get(PARTIES, headers=auth(Role.jobcenter, PROGRAMME))).json()
    assert read["versions"][0] == first
    assert [e.data["version"] for e in parties_events(await outbox_events(intake))] == [1, 2]


async def test_the_same_content_again_is_a_200_with_the_latest_version_and_no_new_one(
    intake: ServiceClient,
) -> None:
    await setup(intake)
    first = await publish(intake, seed_parties())
    # Spelt differently (spaces in the numbers), the same parties: a retry.
    again_body = seed_parties()
    again_body["municipality"]["gln"] = "5798 0000 0001 8"
    again = await publish(intake, again_body)
    assert (first.status_code, again.status_code) == (201, 200), again.text
    assert again.json() == first.json()
    assert len(parties_events(await outbox_events(intake))) == 1


async def test_a_version_taking_effect_before_the_latest_one_is_a_422_naming_effective_from(
    intake: ServiceClient,
) -> None:
    await setup(intake)
    await publish(intake, seed_parties() | {"effective_from": "2024-01-01"})
    changed = seed_parties() | {"effective_from": "2023-12-31"}
    changed["investor"]["bank_account"] = {"iban": OTHER_IBAN}
    response = await publish(intake, changed)
    assert response.status_code == 422, response.text
    assert [e["field"] for e in response.json()["errors"]] == ["effective_from"]
    assert len(parties_events(await outbox_events(intake))) == 1


async def test_concurrent_identical_publications_make_one_version(
    intake: ServiceClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    await setup(intake)
    read_versions = PartiesRepository.versions

    async def slow_versions(self: PartiesRepository, programme_id: str) -> list[PartiesVersion]:
        # Every publication reads, then yields: without the programme's lock they would all read "none".
        versions = await read_versions(self, programme_id)
        await asyncio.sleep(0.05)
        return versions

    monkeypatch.setattr(PartiesRepository, "versions", slow_versions)
    responses = await asyncio.gather(*(publish(intake, seed_parties()) for _ in range(4)))
    assert sorted(r.status_code for r in responses) == [200, 200, 200, 201], [r.text for r in responses]
    assert {json.dumps(r.json(), sort_keys=True) for r in responses} == {
        json.dumps(responses[0].json(), sort_keys=True)
    }
    assert len(parties_events(await outbox_events(intake))) == 1


async def test_parties_of_an_unknown_programme_are_a_404(intake: ServiceClient) -> None:
    await setup(intake)
    assert (
        await intake.get("/v1/programmes/nowhere-2030/parties", headers=auth(Role.admin))
    ).status_code == 404
    response = await intake.post(
        "/v1/programmes/nowhere-2030/parties", json=seed_parties(), headers=auth(Role.admin)
    )
    assert response.status_code == 404


async def test_a_jobcenter_of_another_programme_neither_reads_nor_publishes_the_parties(
    intake: ServiceClient,
) -> None:
    await setup(intake)
    other = auth(Role.jobcenter, "other-2030")
    assert (await intake.post(PARTIES, json=seed_parties(), headers=other)).status_code == 404
    assert (await intake.get(PARTIES, headers=other)).status_code == 404


@pytest.mark.parametrize("role", [Role.provider, Role.investor])
async def test_providers_and_investors_see_the_bank_accounts_masked_to_their_last_four_characters(
    intake: ServiceClient, role: Role
) -> None:
    await setup(intake)
    await publish(intake, seed_parties())
    body = (await intake.get(PARTIES, headers=auth(role, PROGRAMME))).json()
    current = body["current"]
    assert current["investor"]["bank_account"]["iban"] == "*" * 14 + "5678"
    assert current["provider"]["bank_account"]["account_no"] == "******4567"
    assert current["provider"]["bank_account"]["reg_no"] == "****"
    text = json.dumps(body)
    assert "DK8030000012345678" not in text and "0001234567" not in text
    assert current["municipality"]["gln"] == "5798000000018"  # only accounts are hidden
    whole = (await intake.get(PARTIES, headers=auth(Role.jobcenter, PROGRAMME))).json()["current"]
    assert whole["investor"]["bank_account"]["iban"] == "DK8030000012345678"


async def test_a_programme_without_parties_reads_as_no_version(intake: ServiceClient) -> None:
    await setup(intake)
    body = (await intake.get(PARTIES, headers=auth(Role.provider, PROGRAMME))).json()
    assert body == {"programme_id": PROGRAMME, "current": None, "versions": []}
