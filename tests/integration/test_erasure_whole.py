"""Erasure across the whole platform (issue 28): the jobcenter orders a withdrawn citizen erased, intake's
job erases and announces it, progression and settlement erase their rows, and the stream eraser removes
the citizen's events from the stream and the dead letters. Then the citizen's participant id, pseudonym,
CPR number (in every spelling), status record ids and milestone id are found nowhere, in no table of any
of the three databases and in no message of either stream, but in the accounting records the issue keeps
(issued statement lines and their events) and the erasure's own record and event; the issued statement
still verifies; the other citizen's months are unchanged; and settlement rebuilt from what the stream
still holds is identical to the live one."""

from __future__ import annotations

import nats
from nats.aio.msg import Msg
from sqlalchemy import select

from deploy.nats_auth import ERASER
from deploy.ops import rebuild, run_once, service_ops
from libs.common.contracts import INDICATORS
from libs.common.db import Database, outbox_table
from libs.common.events import CloudEvent
from libs.common.nats import connect_options, dead_letter_stream
from libs.common.settings import CommonSettings
from libs.common.uow import UnitOfWork
from services.intake.models import Base as IntakeBase
from services.intake.models import ParticipantRow as IntakeParticipant
from services.progression.models import Base as ProgressionBase
from services.progression.models import StatusRecordRow as ProgressionRecord
from services.settlement.models import Base as SettlementBase
from services.settlement.repository.erasure import ACCOUNTING_EVENT_TYPES
from tests.integration.conftest import Trio, eventually
from tests.integration.test_erasure import (
    ACCOUNTING_TABLES,
    TOMBSTONES,
    applied,
    cpr_spellings,
    lines_of,
    occurrences,
    verifies,
)
from tests.integration.test_rebuild_and_gaps import settlement_caught_up
from tests.integration.test_settlement import (
    ADMIN,
    JOBCENTER,
    PROGRAMME,
    PROVIDER,
    cutoff,
    enrol,
    months,
    status,
    wait_for_fee,
)
from tests.integration.test_stream_erasure import dead_letter, event_type, everything, mentions
from tests.issuing import issue

ERASED_CPR, KEPT_CPR = "070761-4285", "010190-1234"
ERASED_EVENT = "dk.sib.intake.participant.erased.v1"
# The events that may still name the erased citizen: the statement lines (accounting records) and the
# erasure itself. The statement is issued after drafts were introduced, so its lines come as parts.
KEPT = {"dk.sib.settlement.statement.lines.v1", ERASED_EVENT}


async def the_erasure_event(database: Database) -> CloudEvent:
    async with UnitOfWork(database) as uow:
        envelope = await uow.session.scalar(
            select(outbox_table.c.envelope).where(outbox_table.c.event_type == ERASED_EVENT)
        )
    assert envelope is not None
    return CloudEvent.model_validate_json(envelope)


async def test_an_erased_citizen_is_found_nowhere_but_in_the_accounting_records_and_settlement_still_rebuilds(
    trio: Trio,
) -> None:
    erased = await enrol(trio, ERASED_CPR)
    kept = await enrol(trio, KEPT_CPR, enrolled_on="2024-04-02")
    await status(trio, erased, "sygedagpenge", "2024-03-15", "2024-04-30")
    await status(trio, erased, "employed", "2024-05-01")
    await status(trio, kept, "employed", "2024-04-02", "2024-06-30")
    scores = {indicator: 6 for indicator in INDICATORS}
    for pid in (erased, kept):
        measured = await trio.progression.post(
            f"/v1/participants/{pid}/measurements",
            json={"measured_on": "2024-04-20", "scores": scores},
            headers=PROVIDER,
        )
        assert measured.status_code == 201, measured.text
    noted = await trio.progression.post(
        f"/v1/participants/{erased}/milestones",
        json={"kind": "job_start", "on": "2024-05-01", "note": "Started at the bakery."},
        headers=PROVIDER,
    )
    assert noted.status_code == 201, noted.text
    await cutoff(trio, "2024-07-31")
    await wait_for_fee(trio, erased, "2024-06", "3500.00")
    await wait_for_fee(trio, kept, "2024-06", "3500.00")
    statement = await issue(trio.settlement, PROGRAMME, "2024-08", ADMIN)
    assert statement.status_code == 201, statement.text
    assert lines_of(statement.json(), erased), "the erased citizen has invoiced lines to keep"
    await settlement_caught_up(trio)
    kept_months = await months(trio, kept)

    async with UnitOfWork(trio.progression.app.state.database) as uow:
        record_ids = list(
            await uow.session.scalars(
                select(ProgressionRecord.record_id).where(ProgressionRecord.participant_id == erased)
            )
        )
    async with UnitOfWork(trio.intake.app.state.database) as uow:
        pseudonym = await uow.session.scalar(
            select(IntakeParticipant.cpr_pseudonym).where(IntakeParticipant.participant_id == erased)
        )
    assert len(record_ids) == 2 and pseudonym
    needles = [erased, *record_ids, noted.json()["milestone_id"], pseudonym, *cpr_spellings(ERASED_CPR)]
    # A provider reads the citizen's timeline: the read audit names them until the erasure.
    timeline = await trio.progression.get(f"/v1/participants/{erased}/timeline", headers=PROVIDER)
    assert timeline.status_code == 200, timeline.text
    before = await occurrences(trio.progression.app.state.database, ProgressionBase.metadata, needles)
    assert before.get("read_audit_subjects"), before

    # A dead letter that carries the erased citizen's data (a status event settlement gave up on).
    nats_url = trio.settlement.app.state.settings.nats_url
    for msg in (await _stream(nats_url, "SIB")).values():
        if mentions(msg, [erased.encode()]) and event_type(msg) == "dk.sib.progression.status.recorded.v1":
            await dead_letter(nats_url, CloudEvent.model_validate_json(msg.data), "a test's dead letter")
            break
    else:
        raise AssertionError("no status event of the erased citizen on the stream")

    # The jobcenter withdraws the citizen and orders the erasure; intake's job erases and announces it.
    withdrawn = await trio.intake.post(
        f"/v1/participants/{erased}/withdrawal",
        json={"effective_on": "2024-08-01", "reason": "consent_withdrawn"},
        headers=JOBCENTER,
    )
    assert withdrawn.status_code == 200, withdrawn.text
    ordered = await trio.intake.post(
        f"/v1/participants/{erased}/erasure-order",
        json={"reason_code": "data_subject_request", "reason": "The citizen asked to be forgotten."},
        headers=JOBCENTER,
    )
    assert ordered.status_code == 201, ordered.text

    async def job_erased() -> bool:  # the job waits until the participant's events are published
        run = await trio.intake.post("/v1/admin/erasures/run", headers=ADMIN)
        return erased in [e["participant_id"] for e in run.json()["erased"]]

    await eventually(job_erased, timeout=20)
    erasure = await the_erasure_event(trio.intake.app.state.database)
    await applied(trio, erasure.id)

    # The stream eraser, as its own NATS user, once the services have acked the erasure.
    eraser = CommonSettings(service_name=ERASER, nats_url=nats_url, nats_user=ERASER)
    client = await nats.connect(nats_url, **connect_options(eraser))
    try:
        js = client.jetstream()

        async def streams_erased() -> bool:
            report = await run_once(js, eraser, wait=0.2, retry_in=0.2)
            return report.waiting == 0 and report.participants > 0

        await eventually(streams_erased, timeout=30)
    finally:
        await client.close()

    # Nothing of the citizen in any database, but the accounting records and the erasure's own.
    in_intake = await occurrences(trio.intake.app.state.database, IntakeBase.metadata, needles)
    assert in_intake == {"erasures": 1, f"outbox:{ERASED_EVENT}": 1}, in_intake
    in_progression = await occurrences(trio.progression.app.state.database, ProgressionBase.metadata, needles)
    assert set(in_progression) <= TOMBSTONES, in_progression
    in_settlement = await occurrences(trio.settlement.app.state.database, SettlementBase.metadata, needles)
    left = {k for k in in_settlement if k.split(":", 1)[-1] not in ACCOUNTING_EVENT_TYPES}
    assert left <= ACCOUNTING_TABLES | TOMBSTONES, in_settlement

    # Nor in any message of the stream or the dead letters, but statement lines and the erasure event.
    spelled = [n.encode() for n in needles] + [erased.upper().encode(), erased.replace("-", "").encode()]
    stream = await _stream(nats_url, "SIB")
    naming = sorted({event_type(m) for m in stream.values() if mentions(m, spelled)})
    assert set(naming) == KEPT, naming
    letters = await _stream(nats_url, dead_letter_stream(trio.settlement.app.state.settings))
    assert [s for s, m in letters.items() if mentions(m, spelled)] == []

    # The issued statement stands and verifies; the other citizen's months are as they were.
    assert await verifies(trio, statement.json()["statement_id"], statement.json()["sha256"])
    assert await months(trio, kept) == kept_months

    # Settlement rebuilt from what the stream still holds is identical to the live one.
    await settlement_caught_up(trio)
    operator = trio.settlement.app.state.settings.model_copy(update={"nats_user": "operator"})
    stats, report = await rebuild(service_ops("settlement"), operator)
    assert stats.skipped == 0
    different = {t: c for t, c in report.items() if c["only_live"] or c["only_rebuilt"]}
    assert different == {}
    assert report["erased_participants"]["same"] == 1


async def _stream(nats_url: str, stream: str) -> dict[int, Msg]:
    operator = CommonSettings(service_name="operator", nats_url=nats_url, nats_user="operator")
    client = await nats.connect(nats_url, **connect_options(operator))
    try:
        return await everything(client.jetstream(), stream)
    finally:
        await client.close()
