"""Settlement keeps every version of a programme's parties from intake's event (real database, real
nats-server), and reads the version in force on a day for the invoices."""

from __future__ import annotations

from datetime import date

from libs.common.auth import Role
from libs.common.contracts import ProgrammeParties, ProgrammePartiesPublishedV1
from libs.common.uow import UnitOfWork
from libs.simulator.jobcenter import seed_parties
from services.settlement.repository import PartiesRepository
from services.settlement.services.programmes import store_parties
from tests.integration.conftest import SEED, Trio, auth, eventually, outbox_events

PROGRAMME = SEED["programme_id"]
NEW_IBAN = "DK3852950001234567"


async def test_settlement_stores_every_parties_version_and_reads_the_one_in_force_on_a_day(
    trio: Trio,
) -> None:
    admin = auth(Role.admin)
    assert (await trio.intake.post("/v1/programmes", json=SEED, headers=admin)).status_code == 201
    first = seed_parties()
    assert (
        await trio.intake.post(f"/v1/programmes/{PROGRAMME}/parties", json=first, headers=admin)
    ).status_code == 201
    second = seed_parties() | {"effective_from": "2024-01-01"}
    second["investor"]["bank_account"] = {"iban": NEW_IBAN}
    assert (
        await trio.intake.post(f"/v1/programmes/{PROGRAMME}/parties", json=second, headers=admin)
    ).status_code == 201

    database = trio.settlement.app.state.database

    async def as_of(day: date) -> ProgrammeParties | None:
        async with UnitOfWork(database) as uow:
            return await PartiesRepository(uow.session).parties_as_of(PROGRAMME, day)

    async def both_stored() -> bool:
        parties = await as_of(date(2024, 1, 1))
        return parties is not None and parties.investor.bank_account.iban == NEW_IBAN

    await eventually(both_stored)
    assert await as_of(date(2022, 8, 31)) is None
    before = await as_of(date(2023, 12, 31))
    assert before is not None
    assert before.investor.bank_account.iban == "DK8030000012345678"
    assert before.provider.bank_account.account_no == "0001234567"
    assert before.municipality.gln == "5798000000018"
    later = await as_of(date(2026, 6, 1))
    assert later is not None and later.investor.bank_account.iban == NEW_IBAN

    # A redelivery of version 1 changes nothing: the stored version stays as it was.
    [event] = [
        e for e in await outbox_events(trio.intake) if e.data.get("version") == 1 and "parties" in e.data
    ]
    payload = ProgrammePartiesPublishedV1.model_validate(event.data)
    changed = payload.model_copy(
        update={
            "parties": payload.parties.model_copy(
                update={"municipality": later.municipality.model_copy(update={"name": "Other"})}
            )
        }
    )
    async with UnitOfWork(database) as uow:
        await store_parties(uow, changed)
        await uow.commit()
    again = await as_of(date(2023, 12, 31))
    assert again == before
