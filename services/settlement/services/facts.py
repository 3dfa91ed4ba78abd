"""Keeping settlement's copies from the events, each followed by a recompute of what it can affect.
Every copy is set-only or keyed by an immutable id, so any order of deliveries ends the same."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from libs.common.clock import utcnow
from libs.common.contracts import (
    CutoffAdvancedV1,
    CutoffRetractedV1,
    ParticipantEnrolled,
    ParticipantEvent,
    ParticipantWithdrawn,
    StatusRecordedV1,
)
from libs.common.tracing import SpanContext, current_trace
from libs.common.uow import UnitOfWork
from services.settlement.domain import Validity
from services.settlement.models import CutoffRow, ParticipantRow, SequenceGapRow
from services.settlement.repository import FactsRepository
from services.settlement.repository.erasure import ErasureRepository
from services.settlement.services.months import recompute_many, recompute_programme
from services.settlement.services.programme_facts import ProgrammeFactsCache


@dataclass
class FactsBatch:
    """What the events of one transaction (a consumer's batch, or a gap repair) touched, recomputed once
    each at its end by ``recompute_touched``; the status records it queued, inserted together by
    ``insert_queued_records``; the programmes' terms and cut-offs it read; and, per participant and
    programme touched, the span context of the last event that touched it, whose trace the
    recompute's announcement continues."""

    participants: dict[str, Validity | None] = field(default_factory=dict)  # None: every month
    programmes: set[str] = field(default_factory=set)
    recorded: set[str] = field(default_factory=set)  # participants with new status records
    queued_records: dict[str, dict[str, Any]] = field(default_factory=dict)  # rows to store, by record id
    # (records held, highest recording_seq) of participants whose new records were stored
    counts: dict[str, tuple[int, int]] = field(default_factory=dict)
    programme_facts: ProgrammeFactsCache = field(default_factory=ProgrammeFactsCache)
    causes: dict[str, SpanContext] = field(default_factory=dict)  # by participant
    programme_causes: dict[str, SpanContext] = field(default_factory=dict)

    def forget(self, participant_id: str) -> None:
        """Drop what the batch holds of a participant being erased: nothing of it is stored or
        recomputed at the batch's end."""
        self.participants.pop(participant_id, None)
        self.recorded.discard(participant_id)
        self.counts.pop(participant_id, None)
        self.causes.pop(participant_id, None)
        self.queued_records = {
            record_id: row
            for record_id, row in self.queued_records.items()
            if row["participant_id"] != participant_id
        }

    def touch(self, participant_id: str, validity: Validity | None) -> None:
        """The participant's months over ``validity`` (None: all of them) are to be recomputed, in the
        trace of the event being applied."""
        if (cause := current_trace()) is not None:
            self.causes[participant_id] = cause
        if participant_id not in self.participants:
            self.participants[participant_id] = validity
            return
        known = self.participants[participant_id]
        if known is None or validity is None:
            self.participants[participant_id] = None
        else:
            end = (
                None
                if known.valid_to is None or validity.valid_to is None
                else max(known.valid_to, validity.valid_to)
            )
            self.participants[participant_id] = Validity(min(known.valid_from, validity.valid_from), end)


async def recompute_touched(uow: UnitOfWork, batch: FactsBatch) -> None:
    """Recompute, once each, the programmes and participants this transaction's events touched."""
    await insert_queued_records(uow, batch)
    touched, programmes, recorded, counts = batch.participants, batch.programmes, batch.recorded, batch.counts
    causes, programme_causes = batch.causes, batch.programme_causes
    batch.participants, batch.programmes, batch.recorded, batch.counts = {}, set(), set(), {}
    batch.causes, batch.programme_causes = {}, {}
    if recorded:
        await note_gaps(uow, recorded, counts)
    for programme_id in sorted(programmes):
        await recompute_programme(
            uow, programme_id, batch.programme_facts, programme_causes.get(programme_id)
        )
    await recompute_many(
        uow,
        [(participant_id, touched[participant_id]) for participant_id in sorted(touched)],
        skip_programmes=programmes,
        programme_facts=batch.programme_facts,
        causes=causes,
    )


async def apply_participant(uow: UnitOfWork, batch: FactsBatch, event: ParticipantEvent) -> None:
    """Keep the participant's copy, unless it was erased (a late or replayed event after the erasure)."""
    if await ErasureRepository(uow.session).is_erased(event.participant_id):
        return
    facts = FactsRepository(uow.session)
    row = await facts.participant(event.participant_id)
    if row is None:
        row = ParticipantRow(
            participant_id=event.participant_id,
            programme_id=event.programme_id,
            track=event.track,
            referred_on=event.referred_on,
            updated_at=utcnow(),
        )
        facts.add(row)
    row.programme_id, row.track, row.referred_on = event.programme_id, event.track, event.referred_on
    if isinstance(event, ParticipantEnrolled | ParticipantWithdrawn) and event.enrolled_on is not None:
        row.enrolled_on = event.enrolled_on
    if isinstance(event, ParticipantWithdrawn):
        row.withdrawn_on = event.effective_on
    row.updated_at = utcnow()
    await uow.session.flush()
    batch.touch(event.participant_id, None)


def apply_status_recorded(batch: FactsBatch, event: StatusRecordedV1) -> None:
    queue_record(
        batch,
        {
            "record_id": event.record_id,
            "participant_id": event.participant_id,
            "programme_id": event.programme_id,
            "code": event.code.value,
            "valid_from": event.valid_from,
            "valid_to": event.valid_to,
            "recording_seq": event.recording_seq,
            "recorded_at": event.recorded_at,
        },
    )


def queue_record(batch: FactsBatch, row: dict[str, Any]) -> None:
    """Queue a status record (a ``status_records`` row as a dict) to be kept unless it is known (from an
    event or a resync); ``insert_queued_records`` inserts the batch's queue at its end (one query for
    which are known, one insert for the rest)."""
    batch.queued_records.setdefault(row["record_id"], row)
    # Without an enrolment yet there is nothing to compute: the enrolment recomputes from every record.
    batch.touch(row["participant_id"], Validity(row["valid_from"], row["valid_to"]))
    batch.recorded.add(row["participant_id"])


async def insert_queued_records(uow: UnitOfWork, batch: FactsBatch) -> int:
    """Insert the batch's queued status records that are new and not of an erased participant; returns
    how many were stored."""
    if not batch.queued_records:
        return 0
    rows, batch.queued_records = batch.queued_records, {}
    # A record of an erased participant (late, or replayed after the erasure) is not kept.
    erased = await ErasureRepository(uow.session).erased_among(
        {row["participant_id"] for row in rows.values()}
    )
    if erased:
        rows = {record_id: row for record_id, row in rows.items() if row["participant_id"] not in erased}
        for participant_id in erased:
            batch.forget(participant_id)
    known = await FactsRepository(uow.session).known_records(list(rows))
    new = [row for record_id, row in rows.items() if record_id not in known]
    batch.counts.update(await FactsRepository(uow.session).insert_records(new))
    return len(new)


async def note_gaps(
    uow: UnitOfWork, participant_ids: set[str], counted: dict[str, tuple[int, int]] | None = None
) -> None:
    """Record each participant whose recording sequence now has a hole, and forget those whose hole
    has closed. Sequences start at 1 and have no repeats, so a hole is fewer records than the highest.
    ``counted``: counts just stored (``insert_queued_records``), not read again."""
    facts = FactsRepository(uow.session)
    counted = counted or {}
    held = dict(counted)
    if missing := participant_ids - counted.keys():
        held |= await facts.sequence_counts(missing)
    known = await facts.gaps_among(participant_ids)  # one query, not one per participant
    now = utcnow()
    for participant_id in sorted(participant_ids):
        count, highest = held.get(participant_id, (0, 0))
        gap = known.get(participant_id)
        if count >= highest:
            if gap is not None:
                await uow.session.delete(gap)
            continue
        if gap is None:
            uow.session.add(
                SequenceGapRow(
                    participant_id=participant_id,
                    detected_at=now,
                    highest_seq=highest,
                    records_held=count,
                    attempts=0,
                    next_attempt_at=now + timedelta(seconds=_grace(uow)),
                )
            )
        else:
            gap.highest_seq, gap.records_held = highest, count
    await uow.session.flush()


def _grace(uow: UnitOfWork) -> float:
    return float(getattr(uow.database.settings, "gap_grace_seconds", 10.0))


async def apply_cutoff(
    uow: UnitOfWork, batch: FactsBatch, event: CutoffAdvancedV1 | CutoffRetractedV1
) -> None:
    """Keep the move; the cut-off in force is the last one recorded, so a retraction takes it back and
    the programme's months are recomputed (months invoiced under a mistake get adjustment lines in the
    next statement)."""
    facts = FactsRepository(uow.session)
    if not await facts.has_cutoff(event.programme_id, event.recorded_at, event.complete_through):
        facts.add(
            CutoffRow(
                programme_id=event.programme_id,
                recorded_at=event.recorded_at,
                complete_through=event.complete_through,
                kind="retracted" if isinstance(event, CutoffRetractedV1) else "advanced",
            )
        )
        await uow.session.flush()
        batch.programme_facts.forget(event.programme_id)
    batch.programmes.add(event.programme_id)
    if (cause := current_trace()) is not None:
        batch.programme_causes[event.programme_id] = cause
