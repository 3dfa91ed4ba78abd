"""Participant use cases: referral, enrolment within track capacity, withdrawal, coach, reads, lookup.

The CPR number is parsed at the edge, stored only encrypted, found by its keyed pseudonym, and
decrypted only for the jobcenter, with an audit row for every read or write.
"""

from __future__ import annotations

import base64
import binascii
import uuid
from dataclasses import dataclass
from typing import Any

from sqlalchemy.exc import IntegrityError

from libs.common.auth import Principal, Role
from libs.common.clock import utcnow
from libs.common.contracts import ParticipantEnrolledV2, ParticipantReferredV2, ParticipantWithdrawnV2
from libs.common.cpr import Cpr, CprError, parse_cpr
from libs.common.db import Database
from libs.common.errors import Conflict, Forbidden, NotFound, ProblemError, ValidationFailed
from libs.common.events import new_event
from libs.common.logging import get_logger
from libs.common.uow import UnitOfWork
from services.intake.domain import InvalidInput, Participant, RuleViolation, seat_available
from services.intake.models import IdempotencyKeyRow, ParticipantRow
from services.intake.repository import (
    IdempotencyRepository,
    ParticipantRepository,
    ProgrammeRepository,
    apply_participant,
    to_participant,
)
from services.intake.schemas import CoachChange, Enrolment, Referral, Withdrawal
from services.intake.services.protection import Caller, CprProtection, audit, audit_many, reveal

log = get_logger(__name__)


@dataclass(frozen=True)
class ParticipantView:
    participant: Participant
    cpr: Cpr | None  # only for the jobcenter


@dataclass(frozen=True)
class Page:
    items: list[ParticipantView]
    next_cursor: str | None


def parse_cpr_field(raw: str, field: str = "cpr") -> Cpr:
    try:
        return parse_cpr(raw)
    except CprError as exc:  # the message never contains the number
        raise ValidationFailed.for_field(field, str(exc)) from exc


def _problem(exc: RuleViolation) -> ProblemError:
    if isinstance(exc, InvalidInput):
        return ValidationFailed.for_field(exc.field or "body", exc.message)
    return Conflict(exc.message)


def _require_person_level_access(caller: Caller, programme_id: str) -> None:
    principal = caller.principal
    if principal.role in (Role.investor, Role.integrator):
        raise Forbidden("Person-level data is not available to this role.")
    if not principal.can_access(programme_id):
        raise NotFound("No such participant.")


def _shows_cpr(principal: Principal) -> bool:
    return principal.role is Role.jobcenter


async def _view(
    uow: UnitOfWork, protection: CprProtection, caller: Caller, row: ParticipantRow
) -> ParticipantView:
    cpr = reveal(uow, protection, caller, row) if _shows_cpr(caller.principal) else None
    return ParticipantView(to_participant(row), cpr)


def _event_fields(participant: Participant) -> dict[str, Any]:
    """What every participant event says of the participant: nothing derived from the CPR number (the
    pseudonym stays in intake's table, for intake's own lookups)."""
    return {
        "participant_id": participant.participant_id,
        "programme_id": participant.programme_id,
        "track": participant.track,
        "referred_on": participant.referred_on,
    }


async def refer(
    database: Database,
    protection: CprProtection,
    caller: Caller,
    request: Referral,
    idempotency_key: str | None,
) -> ParticipantView:
    """Refer a citizen. The same CPR in the same programme again is a 409 naming the participant;
    a retry carrying the same Idempotency-Key replays the first answer."""
    cpr = parse_cpr_field(request.cpr)
    pseudonym = protection.pseudonym(cpr)
    fingerprint = protection.fingerprint(request.model_dump(mode="json"))
    caller.principal.require_programme(request.programme_id)
    now = utcnow()
    try:
        async with UnitOfWork(database) as uow:
            if idempotency_key is not None:
                replay = await _replay(uow, protection, caller, idempotency_key, fingerprint)
                if replay is not None:
                    await uow.commit()
                    return replay
            programme = await ProgrammeRepository(uow.session).get(request.programme_id)
            if programme is None:
                raise ValidationFailed.for_field("programme_id", "no such programme")
            if programme.track_capacity(request.track) is None:
                tracks = ", ".join(sorted(programme.current.terms.tracks))
                raise ValidationFailed.for_field(
                    "track", f"not a track of this programme; tracks are {tracks}"
                )
            participants = ParticipantRepository(uow.session)
            existing = await participants.by_pseudonym(pseudonym, request.programme_id)
            if existing:
                raise _already_referred(existing[0].participant_id)
            participant_id = str(uuid.uuid4())
            row = ParticipantRow(
                participant_id=participant_id,
                programme_id=request.programme_id,
                track=request.track,
                status="referred",
                cpr_pseudonym=pseudonym,
                cpr_encrypted=protection.cipher.encrypt(cpr, participant_id),
                referred_on=request.referred_on,
                coach_name=request.coach_name,
                created_at=now,
                updated_at=now,
            )
            participants.add(row)
            await participants.flush()
            audit(uow, caller, "write", row.participant_id)
            if idempotency_key is not None:
                IdempotencyRepository(uow.session).add(
                    IdempotencyKeyRow(
                        actor=caller.principal.subject,
                        key=idempotency_key,
                        endpoint=caller.endpoint,
                        request_fingerprint=fingerprint,
                        resource_id=row.participant_id,
                        created_at=now,
                    )
                )
            participant = to_participant(row)
            uow.emit(
                new_event(ParticipantReferredV2(**_event_fields(participant)), subject=_subject(participant))
            )
            await uow.commit()
    except IntegrityError:
        # A concurrent referral of the same citizen (or the same key) committed first.
        async with UnitOfWork(database) as uow:
            if idempotency_key is not None:
                replay = await _replay(uow, protection, caller, idempotency_key, fingerprint)
                if replay is not None:
                    await uow.commit()
                    return replay
            found = await ParticipantRepository(uow.session).by_pseudonym(pseudonym, request.programme_id)
        if found:
            raise _already_referred(found[0].participant_id) from None
        raise
    log.info(
        "participant_referred", participant_id=participant.participant_id, programme_id=request.programme_id
    )
    return ParticipantView(participant, cpr)


def _already_referred(participant_id: str) -> Conflict:
    return Conflict(
        f"This citizen is already a participant of the programme: {participant_id}.",
        participant_id=participant_id,
    )


def _subject(participant: Participant) -> str:
    return f"participant/{participant.participant_id}"


async def _replay(
    uow: UnitOfWork, protection: CprProtection, caller: Caller, key: str, fingerprint: str
) -> ParticipantView | None:
    stored = await IdempotencyRepository(uow.session).get(caller.principal.subject, key)
    if stored is None:
        return None
    if stored.endpoint != caller.endpoint or stored.request_fingerprint != fingerprint:
        raise ValidationFailed.for_field("Idempotency-Key", "already used with another request")
    row = await ParticipantRepository(uow.session).row(stored.resource_id)
    if row is None:
        return None
    return await _view(uow, protection, caller, row)


async def _load_for_change(uow: UnitOfWork, caller: Caller, participant_id: str) -> ParticipantRow:
    row = await ParticipantRepository(uow.session).row(participant_id)
    if row is None:
        raise NotFound("No such participant.")
    _require_person_level_access(caller, row.programme_id)
    return row


async def enrol(
    database: Database, protection: CprProtection, caller: Caller, participant_id: str, request: Enrolment
) -> ParticipantView:
    """Enrol a referred citizen who has consented, if the track has a free seat (409 otherwise).
    Concurrent enrolments into one programme are serialised, so the last seat goes to exactly one."""
    async with UnitOfWork(database) as uow:
        row = await _load_for_change(uow, caller, participant_id)
        # Lock the programme first: every enrolment into it queues here (PostgreSQL row lock).
        programme = await ProgrammeRepository(uow.session).get(row.programme_id, for_update=True)
        assert programme is not None  # a participant's programme always exists (foreign key)
        await uow.session.refresh(row)
        participant = to_participant(row)
        try:
            enrolled = participant.enrol(request.enrolled_on, request.consent_given_on, utcnow())
        except RuleViolation as exc:
            raise _problem(exc) from exc
        if enrolled is not None:
            capacity = programme.track_capacity(participant.track) or 0
            taken = await ParticipantRepository(uow.session).seats_taken(
                participant.programme_id, participant.track
            )
            if not seat_available(capacity, taken):
                raise Conflict(
                    f"The track {participant.track} is full: {taken} of {capacity} seats are taken.",
                    track=participant.track,
                    capacity=capacity,
                )
            await ParticipantRepository(uow.session).take_seat(participant.programme_id, participant.track)
            apply_participant(row, enrolled)
            uow.emit(
                new_event(
                    ParticipantEnrolledV2(
                        **_event_fields(enrolled),
                        enrolled_on=request.enrolled_on,
                        consent_given_on=request.consent_given_on,
                    ),
                    subject=_subject(enrolled),
                )
            )
        view = await _view(uow, protection, caller, row)
        await uow.commit()
    if enrolled is not None:
        log.info("participant_enrolled", participant_id=participant_id)
    return view


async def withdraw(
    database: Database, protection: CprProtection, caller: Caller, participant_id: str, request: Withdrawal
) -> ParticipantView:
    async with UnitOfWork(database) as uow:
        row = await _load_for_change(uow, caller, participant_id)
        participant = to_participant(row)
        try:
            withdrawn = participant.withdraw(request.effective_on, request.reason, utcnow())
        except RuleViolation as exc:
            raise _problem(exc) from exc
        if withdrawn is not None:
            apply_participant(row, withdrawn)
            uow.emit(
                new_event(
                    ParticipantWithdrawnV2(
                        **_event_fields(withdrawn),
                        enrolled_on=withdrawn.enrolled_on,
                        effective_on=request.effective_on,
                        reason=request.reason,
                    ),
                    subject=_subject(withdrawn),
                )
            )
        view = await _view(uow, protection, caller, row)
        await uow.commit()
    if withdrawn is not None:
        log.info("participant_withdrawn", participant_id=participant_id, reason=request.reason.value)
    return view


async def change_coach(
    database: Database, protection: CprProtection, caller: Caller, participant_id: str, request: CoachChange
) -> ParticipantView:
    async with UnitOfWork(database) as uow:
        row = await _load_for_change(uow, caller, participant_id)
        if row.coach_name != request.coach_name:
            row.coach_name = request.coach_name
            row.updated_at = utcnow()
        view = await _view(uow, protection, caller, row)
        await uow.commit()
    return view


async def get_participant(
    database: Database, protection: CprProtection, caller: Caller, participant_id: str
) -> ParticipantView:
    async with UnitOfWork(database) as uow:
        row = await _load_for_change(uow, caller, participant_id)
        view = await _view(uow, protection, caller, row)
        await uow.commit()  # the audit row of the read
    return view


def _decode_cursor(cursor: str | None) -> str | None:
    if cursor is None:
        return None
    try:
        return str(uuid.UUID(base64.urlsafe_b64decode(cursor.encode() + b"==").decode()))
    except (ValueError, binascii.Error, UnicodeDecodeError):
        raise ValidationFailed.for_field("cursor", "not a cursor this API returned") from None


def _encode_cursor(participant_id: str) -> str:
    return base64.urlsafe_b64encode(participant_id.encode()).decode().rstrip("=")


async def list_participants(
    database: Database,
    protection: CprProtection,
    caller: Caller,
    programme_id: str | None,
    status: str | None,
    track: str | None,
    cursor: str | None,
    limit: int,
) -> Page:
    principal = caller.principal
    if principal.role in (Role.investor, Role.integrator):
        raise Forbidden("Person-level data is not available to this role.")
    after = _decode_cursor(cursor)
    if programme_id is not None:
        if not principal.can_access(programme_id):
            return Page([], None)
        scope: list[str] | None = [programme_id]
    elif principal.role is Role.admin or "*" in principal.programmes:
        scope = None
    else:
        scope = sorted(principal.programmes)
    async with UnitOfWork(database) as uow:
        rows = await ParticipantRepository(uow.session).page(scope, status, track, after, limit + 1)
        items = [await _view(uow, protection, caller, row) for row in rows[:limit]]
        await uow.commit()
    next_cursor = _encode_cursor(rows[limit - 1].participant_id) if len(rows) > limit else None
    return Page(items, next_cursor)


async def lookup(
    database: Database, protection: CprProtection, caller: Caller, raw_cpr: str
) -> list[ParticipantView]:
    """Find a citizen's participations by CPR (jobcenter only), within the token's programmes."""
    cpr = parse_cpr_field(raw_cpr)
    pseudonym = protection.pseudonym(cpr)
    async with UnitOfWork(database) as uow:
        rows = [
            row
            for row in await ParticipantRepository(uow.session).by_pseudonym(pseudonym)
            if caller.principal.can_access(row.programme_id)
        ]
        if not rows:
            audit(uow, caller, "lookup", None)
        for row in rows:
            audit(uow, caller, "lookup", row.participant_id)
        views = [ParticipantView(to_participant(row), cpr) for row in rows]
        await uow.commit()
    return views


@dataclass(frozen=True)
class LookupAnswer:
    """One position of a batch lookup: the participations found (without the number: the caller knows
    which CPR it sent at this index), or what is wrong with the CPR."""

    index: int
    participants: list[ParticipantView] | None = None
    error: str | None = None


async def lookup_batch(
    database: Database, protection: CprProtection, caller: Caller, raw_cprs: list[str]
) -> list[LookupAnswer]:
    """Many citizens' participations by CPR (jobcenter only), within the token's programmes: one query
    for all of them and one insert of their audit rows. An invalid CPR is answered at its index and does
    not fail the others. Each distinct valid CPR is audited as ``/lookup`` audits one: a row per
    participation found, or one without a participant when none is."""
    parsed: list[Cpr | str] = []
    for raw in raw_cprs:
        try:
            parsed.append(parse_cpr(raw))
        except CprError as exc:  # the message never contains the number
            parsed.append(str(exc))
    pseudonyms = {cpr.digits: protection.pseudonym(cpr) for cpr in parsed if isinstance(cpr, Cpr)}
    async with UnitOfWork(database) as uow:
        found: dict[str, list[ParticipantRow]] = {}
        for row in await ParticipantRepository(uow.session).by_pseudonyms(pseudonyms.values()):
            if caller.principal.can_access(row.programme_id):
                found.setdefault(row.cpr_pseudonym, []).append(row)
        audited: list[str | None] = []
        for pseudonym in pseudonyms.values():
            audited += [r.participant_id for r in found.get(pseudonym, [])] or [None]
        await audit_many(uow, caller, "lookup", audited)
        await uow.commit()
    answers = []
    for index, cpr in enumerate(parsed):
        if isinstance(cpr, str):
            answers.append(LookupAnswer(index, error=cpr))
        else:
            rows = found.get(pseudonyms[cpr.digits], [])
            answers.append(
                LookupAnswer(index, participants=[ParticipantView(to_participant(r), None) for r in rows])
            )
    log.info(
        "participants_looked_up",
        cprs=len(pseudonyms),
        invalid=len(parsed) - sum(isinstance(c, Cpr) for c in parsed),
    )
    return answers


async def read_batch(database: Database, caller: Caller, participant_ids: list[str]) -> list[ParticipantView]:
    """Many participants by id, in one query: what progression reads, with its own identity, of the
    participants a status batch names before their events have reached it. Each id is answered once,
    in request order; one that does not exist or is outside the token's programmes is left out (the
    single read answers both 404). No CPR number is shown, to anyone, the jobcenter included: the
    caller named the participants by id and needs no number, so nothing is decrypted or audited."""
    principal = caller.principal
    if principal.role in (Role.investor, Role.integrator):
        raise Forbidden("Person-level data is not available to this role.")
    async with UnitOfWork(database, read_only=True) as uow:
        rows = {
            row.participant_id: row
            for row in await ParticipantRepository(uow.session).by_ids(participant_ids)
            if principal.can_access(row.programme_id)
        }
    asked = list(dict.fromkeys(participant_ids))
    views = [ParticipantView(to_participant(rows[pid]), None) for pid in asked if pid in rows]
    log.info("participants_read", asked=len(asked), found=len(views))
    return views
