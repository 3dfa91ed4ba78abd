"""Which bytes the stream eraser takes to name a participant (deploy/ops/erase_scan.py)."""

from __future__ import annotations

import uuid

from deploy.ops.erase_scan import names_one_of

PARTICIPANT = uuid.UUID("5f0c3a52-9d7e-4b8a-a1c2-3e4f5a6b7c8d")
WANTED = frozenset({PARTICIPANT.hex})


def test_a_participant_id_is_found_in_every_spelling_of_the_uuid() -> None:
    for spelling in (str(PARTICIPANT), str(PARTICIPANT).upper(), PARTICIPANT.hex, PARTICIPANT.hex.upper()):
        assert names_one_of(f'{{"participant_id":"{spelling}"}}'.encode(), WANTED), spelling
    assert names_one_of(f"Sib-Dead-Error: urn:uuid:{PARTICIPANT}".encode(), WANTED)


def test_other_ids_and_longer_hex_runs_are_not_taken_for_the_participant() -> None:
    assert not names_one_of(f'{{"participant_id":"{uuid.uuid4()}"}}'.encode(), WANTED)
    assert not names_one_of(f'{{"sha256":"{PARTICIPANT.hex}{PARTICIPANT.hex}"}}'.encode(), WANTED)
    assert not names_one_of(b"", WANTED)
