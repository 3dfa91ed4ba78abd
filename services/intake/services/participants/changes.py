"""Referral, enrolment within track capacity, withdrawal and a change of coach: the use cases that
write a participant and announce it."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy.exc import IntegrityError

from libs.common.clock import utcnow
from libs.common.contracts import ParticipantEnrolledV2, ParticipantReferredV2, ParticipantWithdrawnV2
from libs.common.db import Database
from libs.common.errors import Conflict, ValidationFailed
from libs.common.events import new_event
from libs.common.uow import UnitOfWork
from services.intake.domain import Participant, RuleViolation, seat_available
from services.intake.models import IdempotencyKeyRow, ParticipantRow
from services.intake.repository import (
    IdempotencyRepository,
    ParticipantRepository,
    ProgrammeRepository,
    apply_participant,
    to_participant,
)
from services.intake.schemas import CoachChange, Enrolment, Referral, Withdrawal
from services.intake.services.participants.common import (
    ParticipantView,
    _load_for_change,
    _problem,
    _view,
    log,
    parse_cpr_field,
)
from services.intake.services.protection import Caller, CprProtection, audit


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
    pseudonyms = protection.pseudonyms(cpr)  # the current key's first; the others while a rotation runs
    fingerprints = protection.fingerprints(request.model_dump(mode="json"))
    caller.principal.require_programme(request.programme_id)
    now = utcnow()
    try:
        async with UnitOfWork(database) as uow:
            if idempotency_key is not None:
                replay = await _replay(uow, protection, caller, idempotency_key, fingerprints)
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
            existing = await participants.by_pseudonyms(pseudonyms, request.programme_id)
            if existing:
                raise _already_referred(existing[0].participant_id)
            participant_id = str(uuid.uuid4())
            row = ParticipantRow(
                participant_id=participant_id,
                programme_id=request.programme_id,
                track=request.track,
                status="referred",
                cpr_pseudonym=pseudonyms[0],
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
                        request_fingerprint=fingerprints[0],
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
                replay = await _replay(uow, protection, caller, idempotency_key, fingerprints)
                if replay is not None:
                    await uow.commit()
                    return replay
            found = await ParticipantRepository(uow.session).by_pseudonyms(pseudonyms, request.programme_id)
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
    uow: UnitOfWork, protection: CprProtection, caller: Caller, key: str, fingerprints: list[str]
) -> ParticipantView | None:
    stored = await IdempotencyRepository(uow.session).get(caller.principal.subject, key)
    if stored is None:
        return None
    if stored.endpoint != caller.endpoint or stored.request_fingerprint not in fingerprints:
        raise ValidationFailed.for_field("Idempotency-Key", "already used with another request")
    row = await ParticipantRepository(uow.session).row(stored.resource_id)
    if row is None:
        return None
    return await _view(uow, protection, caller, row)


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
