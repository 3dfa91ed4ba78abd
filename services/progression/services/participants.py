"""Progression's copy of the participants, and finding the participant a status record is about."""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Any, Generic, TypeVar

from libs.common.auth import Role
from libs.common.clock import utcnow
from libs.common.contracts import ParticipantEnrolled, ParticipantEvent, ParticipantWithdrawn
from libs.common.cpr import CprError, parse_cpr
from libs.common.errors import Forbidden, NotFound
from libs.common.logging import get_logger
from libs.common.uow import UnitOfWork
from services.progression.models import ParticipantRow
from services.progression.repository import KnownParticipant, Participant, ParticipantRepository
from services.progression.services import erasure
from services.progression.services.context import Caller, IntakeDirectory

log = get_logger(__name__)


async def apply_participant_event(uow: UnitOfWork, event: ParticipantEvent) -> None:
    """Fields are only ever set to what an event says (never cleared), so any order of the referred,
    enrolled and withdrawn events ends in the same row. Nothing is kept of an erased participant (a late
    or replayed event after its participant.erased.v1)."""
    if await erasure.is_erased(uow, event.participant_id):
        return
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
    cpr: str | None = field(repr=False)
    programme_id: str | None
    row: Participant | None = None
    error: tuple[str, str] | None = None  # (field, message)
    formatted_cpr: str | None = field(default=None, repr=False)
    found_id: str | None = None  # the participant intake's lookup found for the CPR

    @property
    def wanted_id(self) -> str | None:
        """The participant named by id, or the one intake found for the CPR."""
        return self.participant_id if self.participant_id is not None else self.found_id


def parse_references(refs: list[Reference]) -> None:
    """Check each CPR's form (or set the reference's error); no database, no call."""
    for ref in refs:
        if ref.cpr is not None:
            try:
                ref.formatted_cpr = parse_cpr(ref.cpr).formatted
            except CprError as exc:
                ref.error = ("cpr", str(exc))


def cprs_to_look_up(refs: Iterable[Reference]) -> list[str]:
    """The distinct valid CPR numbers the references name: what one batch lookup asks intake."""
    return sorted({ref.formatted_cpr for ref in refs if ref.formatted_cpr is not None and not ref.error})


@dataclass(frozen=True, slots=True)
class FoundParticipant:
    """A participation intake's lookup found for a CPR."""

    participant_id: str
    programme_id: str


def apply_lookup(refs: list[Reference], caller: Caller, found: Mapping[str, list[dict[str, Any]]]) -> None:
    """Choose each CPR reference's participant among the participations intake found for its number
    (or set its error: none in this token's programmes, or several and no ``programme_id``)."""
    for ref in refs:
        if ref.formatted_cpr is None or ref.error:
            continue
        candidates = [
            FoundParticipant(data["participant_id"], data["programme_id"])
            for data in found.get(ref.formatted_cpr, [])
        ]
        chosen = _choose(ref, caller, candidates)
        if chosen is not None:
            ref.found_id = chosen.participant_id


@dataclass
class KnownParticipants:
    """The local copies of the participants some references name, read in one query."""

    by_id: dict[str, KnownParticipant]

    def all(self) -> dict[str, KnownParticipant]:
        return dict(self.by_id)


async def known_participants(
    uow: UnitOfWork, refs: Iterable[Reference], *, for_update: bool = False
) -> KnownParticipants:
    """``for_update``: the rows are locked until the transaction ends (their recording sequence is
    about to be taken)."""
    wanted = {ref.wanted_id for ref in refs if not ref.error and ref.wanted_id is not None}
    rows = await ParticipantRepository(uow.session).known(wanted, for_update=for_update)
    return KnownParticipants({row.participant_id: row for row in rows})


def _choose(ref: Reference, caller: Caller, candidates: Sequence[Participant]) -> Participant | None:
    field_name = "participant_id" if ref.participant_id is not None else "cpr"
    candidates = [c for c in candidates if caller.principal.can_access(c.programme_id)]
    if ref.programme_id is not None:
        candidates = [c for c in candidates if c.programme_id == ref.programme_id]
    if not candidates:
        ref.error = (field_name, "no such participant in the programmes of this token")
    elif len(candidates) > 1:
        ref.error = ("programme_id", "the citizen is a participant of several programmes; name one")
    else:
        return candidates[0]
    return None


def choose_participant(ref: Reference, caller: Caller, candidates: Sequence[Participant]) -> None:
    """Set the reference's row, or its error, from the participants it may mean."""
    ref.row = _choose(ref, caller, candidates)


def locally_known(ref: Reference, known: KnownParticipants) -> list[KnownParticipant] | None:
    """The local participant a reference means, or None when progression has not heard of it (yet)."""
    found = known.by_id.get(ref.wanted_id or "")
    return [found] if found is not None else None


async def read_from_intake(
    directory: IntakeDirectory, wanted: Collection[str], found: Mapping[str, list[dict[str, Any]]]
) -> list[dict[str, Any]]:
    """What intake says of the participants a request names that progression has not heard of yet,
    so a status posted right after the enrolment call returned is accepted before the event has
    arrived. One that intake's CPR lookup found for the request is taken from that answer (no further
    call); the rest are read in one call to intake's batch read, however many the request names.
    Participants intake does not know are not in the answer: their references then get their errors."""
    looked_up = {data["participant_id"]: data for items in found.values() for data in items}
    from_lookup = [looked_up[pid] for pid in sorted(wanted) if pid in looked_up]
    rest = sorted(pid for pid in wanted if pid not in looked_up)
    return from_lookup + (await directory.participants(rest) if rest else [])


async def keep_from_intake(uow: UnitOfWork, participants: Sequence[dict[str, Any]]) -> None:
    """Keep what intake says of these participants, each unless its row is there already (the event
    may have been consumed, in another transaction, while intake was being asked): one insert for all.
    An erased participant is not kept again (intake may still answer for it until its own erasure)."""

    def day(data: dict[str, Any], key: str) -> date | None:
        return date.fromisoformat(data[key]) if data.get(key) else None

    erased = await erasure.erased_among(uow, {data["participant_id"] for data in participants})
    participants = [data for data in participants if data["participant_id"] not in erased]
    now = utcnow()
    await ParticipantRepository(uow.session).add_all_if_absent(
        [
            {
                "participant_id": data["participant_id"],
                "programme_id": data["programme_id"],
                "track": data["track"],
                "referred_on": date.fromisoformat(data["referred_on"]),
                "enrolled_on": day(data, "enrolled_on"),
                "withdrawn_on": day(data, "withdrawn_on"),
                "last_recording_seq": 0,
                "updated_at": now,
            }
            for data in participants
        ]
    )
    if participants:
        log.info("participants_read_from_intake", count=len(participants))


T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class OfParticipant(Generic[T]):
    """What a read found of one participant, and the programme it is in (for the read audit)."""

    programme_id: str
    items: list[T]


async def participant_for_reading(uow: UnitOfWork, caller: Caller, participant_id: str) -> ParticipantRow:
    """A participant the caller may see person-level data of (404 outside its programmes)."""
    if caller.principal.role in (Role.investor, Role.integrator):
        raise Forbidden("Person-level data is not available to this role.")
    row = await ParticipantRepository(uow.session).get(participant_id)
    if row is None or not caller.principal.can_access(row.programme_id):
        raise NotFound("No such participant.")
    return row
