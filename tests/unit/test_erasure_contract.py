"""An erasure names one participant by a UUID: its readers delete whatever names it, so a blank or
partial id (which a text search finds everywhere) is refused before anything is deleted."""

from __future__ import annotations

import asyncio

import pytest
from pydantic import ValidationError

from libs.common.contracts import ParticipantErasedV1
from libs.common.outbox import erase_from_outbox


@pytest.mark.parametrize("participant_id", ["", "%", "-", "3f2b8c1e", "3f2b8c1e-9d4a-4c6b-8e2f-1a2b3c4d5e6"])
def test_an_erasure_event_naming_no_whole_uuid_is_refused(participant_id: str) -> None:
    with pytest.raises(ValidationError):
        ParticipantErasedV1(participant_id=participant_id)


def test_an_erasure_event_takes_a_uuid_in_its_canonical_form() -> None:
    event = ParticipantErasedV1(participant_id="3F2B8C1E-9D4A-4C6B-8E2F-1A2B3C4D5E6F")
    assert event.participant_id == "3f2b8c1e-9d4a-4c6b-8e2f-1a2b3c4d5e6f"


@pytest.mark.parametrize("participant_id", ["", "a"])
def test_the_outbox_erases_nothing_for_an_id_that_is_not_a_uuid(participant_id: str) -> None:
    with pytest.raises(ValueError, match="must be a UUID"):
        asyncio.run(erase_from_outbox(None, participant_id))  # type: ignore[arg-type]
