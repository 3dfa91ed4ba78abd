"""What a set of status records would change in a programme's months if they were posted now (a dry
run): reads only. Person-level: never for the investor or the integrator."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from libs.common.auth import Principal
from libs.common.clock import utcnow
from libs.common.db import Database
from libs.common.errors import NotFound, ValidationFailed
from libs.common.uow import UnitOfWork
from libs.rules.timeline import StatusRecord
from services.settlement.domain import compute_months
from services.settlement.repository import FactsRepository, MonthRepository
from services.settlement.services.month_reads import load_facts, refuse_aggregate_readers
from services.settlement.services.programme_facts import ProgrammeFactsCache


@dataclass(frozen=True)
class MonthChangePreview:
    """A month a dry run would change."""

    participant_id: str
    month: str
    current_fee_dkk: Decimal | None
    new_fee_dkk: Decimal
    current_provisional: bool | None
    new_provisional: bool


async def dry_run(
    database: Database, principal: Principal, programme_id: str, records: list[tuple[int, str, StatusRecord]]
) -> list[MonthChangePreview]:
    """The months that would change if these records were posted now (after everything stored). Reads
    only: nothing is stored and nothing is announced."""
    refuse_aggregate_readers(principal)
    if not principal.can_access(programme_id):
        raise NotFound(f"No programme {programme_id}.")
    by_participant: dict[str, list[tuple[int, StatusRecord]]] = {}
    for index, participant_id, record in records:
        by_participant.setdefault(participant_id, []).append((index, record))
    changes: list[MonthChangePreview] = []
    async with UnitOfWork(database) as uow:
        repo = FactsRepository(uow.session)
        programmes = ProgrammeFactsCache()
        errors = []
        for participant_id, items in by_participant.items():
            participant = await repo.participant(participant_id)
            if participant is None or participant.programme_id != programme_id:
                errors += [
                    {
                        "field": f"records[{i}].participant_id",
                        "in": "body",
                        "message": "no such participant in the programme",
                    }
                    for i, _ in items
                ]
        if errors:
            raise ValidationFailed("; ".join(e["field"] for e in errors[:5]), errors=errors)
        for participant_id, items in by_participant.items():
            participant = await repo.participant(participant_id)
            assert participant is not None
            facts = await load_facts(uow, participant, programmes)
            if facts.enrolment is None:
                continue
            next_seq = max((r.recording_seq for r in facts.records), default=0)
            added = [
                StatusRecord(f"dry-run-{i}", r.code, r.valid_from, r.valid_to, next_seq + n, utcnow())
                for n, (i, r) in enumerate(items, start=1)
            ]
            stored = await MonthRepository(uow.session).of_participant(participant_id)
            for item in compute_months(
                facts.enrolment, facts.versions, [*facts.records, *added], facts.cutoff
            ):
                key = str(item.fee.month)
                current = stored.get(key)
                if (
                    current is None
                    or Decimal(current.fee_dkk) != item.fee.fee_dkk
                    or current.provisional != item.fee.provisional
                ):
                    changes.append(
                        MonthChangePreview(
                            participant_id=participant_id,
                            month=key,
                            current_fee_dkk=Decimal(current.fee_dkk).quantize(Decimal("0.01"))
                            if current
                            else None,
                            new_fee_dkk=item.fee.fee_dkk,
                            current_provisional=current.provisional if current else None,
                            new_provisional=item.fee.provisional,
                        )
                    )
    return changes
