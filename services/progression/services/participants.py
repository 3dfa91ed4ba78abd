"""Progression's copy of the participants, and finding the participant a status record is about."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from libs.common.auth import Role
from libs.common.clock import utcnow
from libs.common.contracts import ParticipantEnrolled, ParticipantEvent, ParticipantWithdrawn
from libs.common.cpr import CprError, cpr_pseudonym, parse_cpr
from libs.common.errors import Forbidden, NotFound
from libs.common.logging import get_logger
from libs.common.uow import UnitOfWork
from services.progression.models import ParticipantRow
from services.progression.repository import KnownParticipant, Participant, ParticipantRepository
from services.progression.services.context import Caller, IntakeDirectory

log = get_logger(__name__)


async def apply_participant_event(uow: UnitOfWork, event: ParticipantEvent) -> None:
    """Fields are only ever set to what an event says (never cleared), so any order of the referred,
    enrolled and withdrawn events ends in the same row."""
    # Inserted unless a status post has just read the participant from intake and kept it.
    row = await ParticipantRepository(uow.session).add_if_absent(
        {
            "participant_id": event.participant_id,
            "programme_id": event.programme_id,
            "track": event.track,
            "referred_on": event.referred_on,
            "last_recording_seq": 0,
            "updated_at": utcnow(),
        }
    )
    row.programme_id, row.track, row.referred_on = event.programme_id, event.track, event.referred_on
    if isinstance(event, ParticipantEnrolled | ParticipantWithdrawn) and event.enrolled_on is not None:
        row.enrolled_on = event.enrolled_on
    if isinstance(event, ParticipantWithdrawn):
        row.withdrawn_on = event.effective_on
    row.updated_at = utcnow()


@dataclass
class Reference:
    """How one input names its citizen, and what it resolved to."""

    index: int
    participant_id: str | None
    cpr: str | None
    programme_id: str | None
    pseudonym: str | None = None
    row: Participant | None = None
    error: tuple[str, str] | None = None  # (field, message)
    formatted_cpr: str | None = field(default=None, repr=False)


def parse_references(pseudonym_key: bytes, refs: list[Reference]) -> None:
    """Turn each CPR into its pseudonym (or the reference's error); no database."""
    for ref in refs:
        if ref.cpr is not None:
            try:
                cpr = parse_cpr(ref.cpr)
            except CprError as exc:
                ref.error = ("cpr", str(exc))
                continue
            ref.pseudonym = cpr_pseudonym(cpr, pseudonym_key)
            ref.formatted_cpr = cpr.formatted


@dataclass
class KnownParticipants:
    """The local copies of the participants some references name, read in one query."""

    by_id: dict[str, KnownParticipant]
    by_pseudonym: dict[str, list[KnownParticipant]]

    def all(self) -> dict[str, KnownParticipant]:
        found = dict(self.by_id)
        for rows in self.by_pseudonym.values():
            found.update((row.participant_id, row) for row in rows)
        return found


async def known_participants(
    uow: UnitOfWork, refs: Iterable[Reference], *, for_update: bool = False
) -> KnownParticipants:
    """``for_update``: the rows are locked until the transaction ends (their recording sequence is
    about to be taken)."""
    refs = [r for r in refs if not r.error]
    rows = await ParticipantRepository(uow.session).known(
        {r.participant_id for r in refs if r.participant_id},
        {r.pseudonym for r in refs if r.pseudonym},
        for_update=for_update,
    )
    wanted_ids = {r.participant_id for r in refs if r.participant_id}
    by_id = {row.participant_id: row for row in rows if row.participant_id in wanted_ids}
    by_pseudonym: dict[str, list[KnownParticipant]] = {}
    for row in rows:
        if row.cpr_pseudonym:
            by_pseudonym.setdefault(row.cpr_pseudonym, []).append(row)
    return KnownParticipants(by_id, by_pseudonym)


def choose_participant(ref: Reference, caller: Caller, candidates: Sequence[Participant]) -> None:
    """Set the reference's row, or its error, from the participants it may mean."""
    field_name = "participant_id" if ref.participant_id is not None else "cpr"
    candidates = [c for c in candidates if caller.principal.can_access(c.programme_id)]
    if ref.programme_id is not None:
        candidates = [c for c in candidates if c.programme_id == ref.programme_id]
    if not candidates:
        ref.error = (field_name, "no such participant in the programmes of this token")
    elif len(candidates) > 1:
        ref.error = ("programme_id", "the citizen is a participant of several programmes; name one")
    else:
        ref.row = candidates[0]


def locally_known(ref: Reference, known: KnownParticipants) -> list[KnownParticipant] | None:
    """The local participants a reference may mean, or None when progression has none (yet)."""
    if ref.participant_id is not None:
        found = known.by_id.get(ref.participant_id)
        return [found] if found is not None else None
    return known.by_pseudonym.get(ref.pseudonym or "") or None


async def resolve_participants(
    uow: UnitOfWork, directory: IntakeDirectory, pseudonym_key: bytes, caller: Caller, refs: list[Reference]
) -> None:
    """Fill in each reference's participant row, or its error. Known participants come from the local
    copy in two queries; the rest are read from intake (then kept), so a status posted right after the
    enrolment call returned is accepted even before the event has arrived."""
    parse_references(pseudonym_key, refs)
    known = await known_participants(uow, refs)
    fetched_ids: dict[str, ParticipantRow | None] = {}
    candidates: Sequence[Participant] | None
    fetched_cprs: dict[str, list[ParticipantRow]] = {}
    for ref in refs:
        if ref.error:
            continue
        candidates = locally_known(ref, known)
        if candidates is None and ref.participant_id is not None:
            if ref.participant_id not in fetched_ids:
                fetched_ids[ref.participant_id] = await _fetch_by_id(uow, directory, ref.participant_id)
            found = fetched_ids[ref.participant_id]
            candidates = [found] if found is not None else []
        elif candidates is None:
            assert ref.pseudonym is not None and ref.formatted_cpr is not None
            if ref.pseudonym not in fetched_cprs:
                fetched_cprs[ref.pseudonym] = await _fetch_by_cpr(
                    uow, directory, caller, ref.formatted_cpr, ref.pseudonym
                )
            candidates = fetched_cprs[ref.pseudonym]
        choose_participant(ref, caller, candidates)


async def _fetch_by_id(
    uow: UnitOfWork, directory: IntakeDirectory, participant_id: str
) -> ParticipantRow | None:
    data = await directory.participant(participant_id)
    return await _keep(uow, data, pseudonym=None) if data else None


async def _fetch_by_cpr(
    uow: UnitOfWork, directory: IntakeDirectory, caller: Caller, cpr: str, pseudonym: str
) -> list[ParticipantRow]:
    return [await _keep(uow, data, pseudonym) for data in await directory.lookup(cpr, caller)]


async def _keep(uow: UnitOfWork, data: dict[str, Any], pseudonym: str | None) -> ParticipantRow:
    """Keep what intake says of a participant, unless its row is there already: the event may have
    been consumed, in another transaction, while intake was being asked."""

    def day(key: str) -> date | None:
        return date.fromisoformat(data[key]) if data.get(key) else None

    row = await ParticipantRepository(uow.session).add_if_absent(
        {
            "participant_id": data["participant_id"],
            "programme_id": data["programme_id"],
            "track": data["track"],
            "cpr_pseudonym": pseudonym,
            "referred_on": date.fromisoformat(data["referred_on"]),
            "enrolled_on": day("enrolled_on"),
            "withdrawn_on": day("withdrawn_on"),
            "last_recording_seq": 0,
            "updated_at": utcnow(),
        }
    )
    row.cpr_pseudonym = row.cpr_pseudonym or pseudonym
    log.info("participant_read_from_intake", participant_id=row.participant_id)
    return row


async def participant_for_reading(uow: UnitOfWork, caller: Caller, participant_id: str) -> ParticipantRow:
    """A participant the caller may see person-level data of (404 outside its programmes)."""
    if caller.principal.role in (Role.investor, Role.integrator):
        raise Forbidden("Person-level data is not available to this role.")
    row = await ParticipantRepository(uow.session).get(participant_id)
    if row is None or not caller.principal.can_access(row.programme_id):
        raise NotFound("No such participant.")
    return row
