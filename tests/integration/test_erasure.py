"""Erasure of a participant in progression and settlement (issue 28): intake's participant.erased.v1,
delivered as intake's relay publishes it, leaves nothing of the citizen in either database but the
accounting records (issued statement lines, the statement events in settlement's outbox) and the
tombstone; the other citizen's months and the issued statements stand; a late event or post brings
nothing back; the next statement corrects nothing of the erased citizen; and a rebuild of settlement
from the stream (which still holds the citizen's earlier events) ends identical.
"""

from __future__ import annotations

import uuid
from datetime import date
from decimal import Decimal
from typing import Any

from sqlalchemy import JSON, String, Text, cast, func, or_, select
from sqlalchemy.sql.schema import MetaData

from deploy.ops import rebuild, service_ops
from libs.common.clock import as_utc, utcnow
from libs.common.contracts import (
    INDICATORS,
    MeasurementRecordedV1,
    ParticipantEnrolledV2,
    ParticipantErasedV1,
    StatusCategory,
    StatusCode,
    StatusRecordedV1,
)
from libs.common.cpr import parse_cpr
from libs.common.db import Database, inbox_table, messaging_metadata
from libs.common.events import CloudEvent, new_event
from libs.common.migrations import upgrade_head_async
from libs.common.nats import ConsumerSpec, EventConsumer
from libs.common.uow import UnitOfWork
from services.intake.models import ParticipantRow as IntakeParticipant
from services.progression.handlers import CONSUMERS as PROGRESSION_CONSUMERS
from services.progression.main import MIGRATIONS as PROGRESSION_MIGRATIONS
from services.progression.models import Base as ProgressionBase
from services.progression.models import ErasedParticipantRow as ProgressionTombstone
from services.progression.models import StatusRecordRow as ProgressionRecord
from services.progression.settings import ProgressionSettings
from services.settlement.domain.statements import content_hash
from services.settlement.handlers import CONSUMERS as SETTLEMENT_CONSUMERS
from services.settlement.main import MIGRATIONS as SETTLEMENT_MIGRATIONS
from services.settlement.models import Base as SettlementBase
from services.settlement.models import ErasedParticipantRow as SettlementTombstone
from services.settlement.repository.erasure import ACCOUNTING_EVENT_TYPES
from services.settlement.settings import SettlementSettings
from tests.integration.conftest import Trio, eventually
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
from tests.issuing import issue
from tests.pg_roles import beside

ERASED_CPR, KEPT_CPR = "070761-4285", "010190-1234"
# Where the erased participant's id may stay: the accounting records and the tombstones.
ACCOUNTING_TABLES = {"statement_lines", "statement_line_parts", "dispute_lines", "invoices"}
TOMBSTONES = {"erased_participants"}


def cpr_spellings(cpr: str) -> list[str]:
    digits = cpr.replace("-", "")
    return [parse_cpr(cpr).formatted, digits, f"{digits[:6]} {digits[6:]}"]


async def occurrences(database: Database, metadata: MetaData, needles: list[str]) -> dict[str, int]:
    """Per table (and, for the outbox, per event type), the rows with any of ``needles`` in any text or
    JSON column."""
    found: dict[str, int] = {}
    async with UnitOfWork(database) as uow:
        for table in [*metadata.sorted_tables, *messaging_metadata.sorted_tables]:
            columns = [c for c in table.columns if isinstance(c.type, String | Text | JSON)]
            if not columns:
                continue
            texts = [cast(c, Text) for c in columns]
            condition = [text.contains(needle, autoescape=True) for text in texts for needle in needles]
            if table.name == "outbox":
                query = (
                    select(table.c.event_type, func.count())
                    .where(or_(*condition))
                    .group_by(table.c.event_type)
                )
                for event_type, count in (await uow.session.execute(query)).all():
                    found[f"outbox:{event_type}"] = count
                continue
            count = (
                await uow.session.execute(select(func.count()).select_from(table).where(or_(*condition)))
            ).scalar_one()
            if count:
                found[table.name] = count
    return found


async def emit_from_intake(trio: Trio, event: CloudEvent) -> None:
    """An event of intake's, written to intake's outbox as its use cases write them: intake's relay
    publishes it (the erasure job itself is intake's part of issue 28)."""
    async with UnitOfWork(trio.intake.app.state.database) as uow:
        uow.emit(event)
        await uow.commit()


async def applied(trio: Trio, event_id: str) -> None:
    """Wait until progression's and settlement's consumers have applied the event."""

    async def both() -> bool:
        for client in (trio.progression, trio.settlement):
            async with UnitOfWork(client.app.state.database) as uow:
                query = (
                    select(func.count()).select_from(inbox_table).where(inbox_table.c.event_id == event_id)
                )
                if not (await uow.session.execute(query)).scalar_one():
                    return False
        return True

    await eventually(both, timeout=20)


def lines_of(statement: dict[str, Any], pid: str) -> list[tuple[str, str, str]]:
    return [
        (x["kind"], x["month"], x["amount_dkk"]) for x in statement["lines"] if x["participant_id"] == pid
    ]


async def verifies(trio: Trio, statement_id: str, sha256: str) -> bool:
    """The statement as its route serves it still hashes to its sha256."""
    document = (await trio.settlement.get(f"/v1/statements/{statement_id}", headers=JOBCENTER)).json()
    issued = {k: document[k] for k in document["hashed"]}
    issued["lines"] = [{k: v for k, v in x.items() if k != "dispute_id"} for x in document["lines"]]
    return content_hash(issued) == sha256


async def test_an_erased_participant_leaves_only_accounting_records_and_settlement_still_rebuilds_identical(
    trio: Trio,
) -> None:
    erased = await enrol(trio, ERASED_CPR)
    kept = await enrol(trio, KEPT_CPR, enrolled_on="2024-04-02")
    await status(trio, erased, "sygedagpenge", "2024-03-15", "2024-04-30")
    await status(trio, erased, "employed", "2024-05-01")
    await status(trio, kept, "employed", "2024-04-02", "2024-06-30")
    scores = {indicator: 5 for indicator in INDICATORS}
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
    await wait_for_fee(trio, erased, "2024-07", "3500.00")
    await wait_for_fee(trio, kept, "2024-06", "3500.00")
    first = await issue(trio.settlement, PROGRAMME, "2024-08", ADMIN)  # covers through 2024-06
    assert first.status_code == 201, first.text
    assert lines_of(first.json(), erased) == [("fee", "2024-05", "3500.00"), ("fee", "2024-06", "3500.00")]
    await settlement_caught_up(trio)
    kept_months = await months(trio, kept)

    # What names the erased citizen besides its id: its record ids, measurement and milestone ids,
    # pseudonym and CPR in every spelling.
    async with UnitOfWork(trio.progression.app.state.database) as uow:
        record_ids = list(
            (
                await uow.session.scalars(
                    select(ProgressionRecord.record_id).where(ProgressionRecord.participant_id == erased)
                )
            ).all()
        )
    async with UnitOfWork(trio.intake.app.state.database) as uow:
        pseudonym = (
            await uow.session.scalars(
                select(IntakeParticipant.cpr_pseudonym).where(IntakeParticipant.participant_id == erased)
            )
        ).one()
    assert len(record_ids) == 2
    needles = [erased, *record_ids, noted.json()["milestone_id"], pseudonym, *cpr_spellings(ERASED_CPR)]
    before = await occurrences(trio.settlement.app.state.database, SettlementBase.metadata, needles)
    assert {"participants", "status_records", "participant_months", "measurements"} <= before.keys()

    erasure = new_event(ParticipantErasedV1(participant_id=erased), subject=f"participant/{erased}")
    await emit_from_intake(trio, erasure)
    await applied(trio, erasure.id)

    in_progression = await occurrences(trio.progression.app.state.database, ProgressionBase.metadata, needles)
    assert in_progression == {"erased_participants": 1}
    in_settlement = await occurrences(trio.settlement.app.state.database, SettlementBase.metadata, needles)
    left = {k for k in in_settlement if k.split(":", 1)[-1] not in ACCOUNTING_EVENT_TYPES}
    assert left <= ACCOUNTING_TABLES | TOMBSTONES, in_settlement
    assert in_settlement["statement_lines"] == 2 and in_settlement["erased_participants"] == 1
    assert await months(trio, kept) == kept_months

    # A repeat of the erasure (another event) and a late enrolment event change nothing.
    again = new_event(ParticipantErasedV1(participant_id=erased), subject=f"participant/{erased}")
    late = new_event(
        ParticipantEnrolledV2(
            participant_id=erased, programme_id=PROGRAMME, track="sygedagpenge",
            referred_on=date(2024, 3, 1), enrolled_on=date(2024, 3, 15), consent_given_on=date(2024, 3, 10),
        ),
        subject=f"participant/{erased}",
    )  # fmt: skip
    await emit_from_intake(trio, again)
    await emit_from_intake(trio, late)
    await applied(trio, late.id)
    await applied(trio, again.id)
    assert await occurrences(trio.progression.app.state.database, ProgressionBase.metadata, needles) == (
        in_progression
    )
    assert await occurrences(trio.settlement.app.state.database, SettlementBase.metadata, needles) == (
        in_settlement
    )
    for client, tombstone in (
        (trio.progression, ProgressionTombstone),
        (trio.settlement, SettlementTombstone),
    ):
        async with UnitOfWork(client.app.state.database) as uow:
            erased_at = await uow.session.scalar(
                select(tombstone.erased_at).where(tombstone.participant_id == erased)
            )
            assert erased_at is not None and as_utc(erased_at) == erasure.time

    # Later posts about the erased participant are refused (intake still answers for it here).
    measurement = await trio.progression.post(
        f"/v1/participants/{erased}/measurements",
        json={"measured_on": "2024-09-20", "scores": scores},
        headers=PROVIDER,
    )
    assert measurement.status_code == 404, measurement.text
    milestone = await trio.progression.post(
        f"/v1/participants/{erased}/milestones",
        json={"kind": "job_start", "on": "2024-09-01"},
        headers=PROVIDER,
    )
    assert milestone.status_code == 404, milestone.text
    posted = await trio.progression.post(
        "/v1/status-records",
        json={"participant_id": erased, "code": "employed", "valid_from": "2024-09-01"},
        headers=JOBCENTER,
    )
    assert posted.status_code == 422 and posted.json()["errors"][0]["field"] == "participant_id", posted.text
    assert await occurrences(trio.progression.app.state.database, ProgressionBase.metadata, needles) == (
        in_progression
    )

    # The next statement corrects nothing of the erased citizen: its invoiced months stand, its July
    # earns no fee line; the kept citizen is invoiced as its months say.
    second = await issue(trio.settlement, PROGRAMME, "2024-09", ADMIN)  # covers through 2024-07
    assert second.status_code == 201, second.text
    assert lines_of(second.json(), erased) == []
    invoiced = lines_of(first.json(), kept) + lines_of(second.json(), kept)
    owed = [
        ("fee", m, f["fee_dkk"])
        for m, f in sorted(kept_months.items())
        if m <= "2024-07" and not f["provisional"]
    ]
    assert invoiced == [line for line in owed if Decimal(line[2])]
    totals = second.json()["totals"]
    assert Decimal(totals["net"]) == sum(
        (Decimal(x["amount_dkk"]) for x in second.json()["lines"]), Decimal(0)
    )
    assert Decimal(totals["cumulative_invoiced"]) == Decimal(first.json()["totals"]["net"]) + Decimal(
        totals["net"]
    )
    assert await verifies(trio, first.json()["statement_id"], first.json()["sha256"])

    # A rebuild from the stream, which still holds the erased citizen's events before the erasure.
    await settlement_caught_up(trio)
    live_settings = trio.settlement.app.state.settings.model_copy(update={"nats_user": "operator"})
    stats, report = await rebuild(service_ops("settlement"), live_settings)
    assert stats.skipped == 0
    for table_name, counts in report.items():
        assert counts["only_live"] == counts["only_rebuilt"] == 0, (table_name, counts)
    assert report["erased_participants"]["same"] == 1
    assert report["participants"]["same"] == 1  # the kept citizen only


def _consumer(consumers: list[ConsumerSpec], name: str, database: Database) -> EventConsumer:
    spec = next(spec for spec in consumers if spec.name == name)
    link: Any = None  # applying a batch never touches NATS
    return EventConsumer(spec, database, link)


async def test_an_erasure_in_the_same_batch_as_the_events_before_and_after_it_leaves_nothing_of_them(
    database: dict[str, Any],
) -> None:
    """A consumer's batch (or a replay's run) holding the participant's events, its erasure and a late
    event, then a late measurement for settlement's measurement consumer: progression and settlement end
    with no row of it but the tombstone."""
    pid, programme = str(uuid.uuid4()), "hedensted-2022"
    enrolled = ParticipantEnrolledV2(
        participant_id=pid, programme_id=programme, track="sygedagpenge", referred_on=date(2024, 3, 1),
        enrolled_on=date(2024, 3, 15), consent_given_on=date(2024, 3, 10),
    )  # fmt: skip

    def recorded(seq: int) -> StatusRecordedV1:
        return StatusRecordedV1(
            record_id=str(uuid.uuid4()), participant_id=pid, programme_id=programme, code=StatusCode("employed"),
            category=StatusCategory("self_supporting"), valid_from=date(2024, 4, seq), valid_to=None,
            recording_seq=seq, recorded_at=utcnow(),
        )  # fmt: skip

    erased = ParticipantErasedV1(participant_id=pid)
    late_measurement = MeasurementRecordedV1(
        measurement_id=str(uuid.uuid4()), participant_id=pid, programme_id=programme,
        measured_on=date(2024, 4, 20), scores=dict.fromkeys(INDICATORS, 5), recorded_at=utcnow(),
    )  # fmt: skip
    batch = [enrolled, recorded(1), erased, recorded(2), enrolled, late_measurement]
    events = [(new_event(payload, subject=f"participant/{pid}"), payload) for payload in batch]
    for settings, migrations, consumers, names, metadata in (
        (
            ProgressionSettings(sib_env="test", **beside(database, "_p")),
            PROGRESSION_MIGRATIONS,
            PROGRESSION_CONSUMERS,
            ("progression-participants",),
            ProgressionBase.metadata,
        ),
        (
            SettlementSettings(sib_env="test", **beside(database, "_s")),
            SETTLEMENT_MIGRATIONS,
            SETTLEMENT_CONSUMERS,
            ("settlement-facts", "settlement-measurements"),
            SettlementBase.metadata,
        ),
    ):
        await upgrade_head_async(settings, migrations)
        db = Database(settings)
        try:
            for name in names:  # each consumer its events, one transaction each
                consumer = _consumer(consumers, name, db)
                wanted = [(e, payload) for e, payload in events if e.type in consumer.spec.event_types]
                async with UnitOfWork(db) as uow:
                    await consumer.apply_events(uow, wanted)
                    await uow.commit()
            assert await occurrences(db, metadata, [pid]) == {"erased_participants": 1}, names
        finally:
            await db.dispose()
