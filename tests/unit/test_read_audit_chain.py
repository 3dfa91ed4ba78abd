"""The read audit's hash chain: any sequence of appends verifies, and any single altered field is
found at its row."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from libs.common.readaudit import GENESIS, ChainRow, first_break, participant_digest, row_hash

_text = st.text(min_size=1, max_size=12)
_ids = st.lists(st.uuids().map(str), max_size=3)
_reads = st.lists(
    st.tuples(_text, st.sampled_from(["jobcenter", "provider", "admin", "auditor"]), _text,
              st.none() | _text, st.none() | st.text("0123456789abcdef", min_size=32, max_size=32), _ids,
              st.integers(0, 10**9)),
    min_size=1, max_size=12,
)  # fmt: skip


def chain(reads: list[Any]) -> list[ChainRow]:
    rows: list[ChainRow] = []
    prev, at = GENESIS, datetime(2026, 12, 1, tzinfo=UTC)
    for seq, (sub, role, route, programme, trace, ids, micros) in enumerate(reads, start=1):
        at += timedelta(microseconds=micros)
        digests = tuple(participant_digest(p) for p in ids)
        fields = dict(seq=seq, at=at, sub=sub, role=role, route=route, programme_id=programme,
                      trace_id=trace, digests=digests, prev_hash=prev)  # fmt: skip
        digest = row_hash(**fields)
        rows.append(ChainRow(**fields, hash=digest, participant_ids=tuple(ids)))
        prev = digest
    return rows


def _altered(row: ChainRow, field: str) -> ChainRow:
    value = getattr(row, field)
    if field == "seq":
        return dataclasses.replace(row, seq=value + 1000)
    if field == "at":
        return dataclasses.replace(row, at=value + timedelta(microseconds=1))
    if field == "digests":
        return dataclasses.replace(row, digests=(*value, participant_digest("extra")))
    if field == "participant_ids":
        if not value:  # nothing to swap: an id slipped in, with a digest the hash does not cover
            return dataclasses.replace(row, participant_ids=("someone",), digests=("0" * 64,))
        # Another participant's id where the digest says who it was.
        return dataclasses.replace(row, participant_ids=("someone-else", *value[1:]))
    changes: dict[str, Any] = {field: "x" if value is None else value + "x"}
    return dataclasses.replace(row, **changes)


@given(_reads)
def test_any_sequence_of_appends_verifies(reads: list[Any]) -> None:
    rows = chain(reads)
    assert first_break(rows, rows[-1].seq, rows[-1].hash) is None


FIELDS = ["seq", "at", "sub", "role", "route", "programme_id", "trace_id", "digests", "prev_hash", "hash",
          "participant_ids"]  # fmt: skip


@given(_reads, st.data())
def test_any_single_altered_field_is_found_at_its_row(reads: list[Any], data: st.DataObject) -> None:
    rows = chain(reads)
    index = data.draw(st.integers(0, len(rows) - 1))
    field = data.draw(st.sampled_from(FIELDS))
    rows[index] = _altered(rows[index], field)
    found = first_break(rows, len(rows), chain(reads)[-1].hash)
    assert found is not None and found.seq == index + 1, (field, found)


@given(_reads)
def test_nulling_participant_ids_keeps_the_chain_and_cutting_rows_off_the_end_does_not(
    reads: list[Any],
) -> None:
    rows = chain(reads)
    redacted = [dataclasses.replace(r, participant_ids=tuple(None for _ in r.participant_ids)) for r in rows]
    assert first_break(redacted, rows[-1].seq, rows[-1].hash) is None
    found = first_break(rows[:-1], rows[-1].seq, rows[-1].hash)
    assert found is not None and found.seq == len(rows)
