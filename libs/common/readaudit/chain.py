"""The read audit's hash chain, as pure functions: the canonical form of a row, its hash, and the check
of a sequence of rows (no database here; ``store.py`` reads the rows and hands them in).

Each row's hash covers the previous row's hash and a SHA-256 digest of each participant id, never the id
itself, so an erasure can null the ids while every hash still verifies."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime

from libs.common.clock import as_utc

# The ``prev_hash`` of the first row.
GENESIS = "0" * 64


def participant_digest(participant_id: str) -> str:
    """SHA-256 of the participant id (lower case), in hex: what the chain covers instead of the id."""
    return hashlib.sha256(participant_id.lower().encode()).hexdigest()


@dataclass(frozen=True, slots=True)
class ChainRow:
    """One audit row as the chain sees it: every field its hash covers, the hashes, and the participant
    ids beside their digests (an id is None once redacted)."""

    seq: int
    at: datetime
    sub: str
    role: str
    route: str
    programme_id: str | None
    trace_id: str | None
    digests: tuple[str, ...]
    prev_hash: str
    hash: str
    participant_ids: tuple[str | None, ...] = ()


def canonical(
    *,
    seq: int,
    at: datetime,
    sub: str,
    role: str,
    route: str,
    programme_id: str | None,
    trace_id: str | None,
    digests: Sequence[str],
    prev_hash: str,
) -> bytes:
    """The bytes a row's hash covers: a JSON array in a fixed order, compact, UTF-8, the time in UTC to
    the microsecond (what both databases keep)."""
    moment = as_utc(at).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    fields = [seq, moment, sub, role, route, programme_id, trace_id, list(digests), prev_hash]
    return json.dumps(fields, ensure_ascii=False, separators=(",", ":")).encode()


def row_hash(
    *,
    seq: int,
    at: datetime,
    sub: str,
    role: str,
    route: str,
    programme_id: str | None,
    trace_id: str | None,
    digests: Sequence[str],
    prev_hash: str,
) -> str:
    return hashlib.sha256(
        canonical(
            seq=seq,
            at=at,
            sub=sub,
            role=role,
            route=route,
            programme_id=programme_id,
            trace_id=trace_id,
            digests=digests,
            prev_hash=prev_hash,
        )
    ).hexdigest()


def hash_of(row: ChainRow) -> str:
    """What ``row.hash`` must be."""
    return row_hash(
        seq=row.seq,
        at=row.at,
        sub=row.sub,
        role=row.role,
        route=row.route,
        programme_id=row.programme_id,
        trace_id=row.trace_id,
        digests=row.digests,
        prev_hash=row.prev_hash,
    )


@dataclass(frozen=True, slots=True)
class Break:
    """The first row that does not verify, and why."""

    seq: int
    reason: str


class ChainChecker:
    """Checks rows handed in ``seq`` order, in as many batches as the caller reads; ``finish`` compares
    the chain's head (the last seq and hash the appender wrote) with the last row, so rows cut off the
    end are found too."""

    def __init__(self) -> None:
        self.checked = 0
        self.last_seq = 0
        self.last_hash = GENESIS
        self.broken: Break | None = None

    def feed(self, rows: Iterable[ChainRow]) -> Break | None:
        for row in rows:
            if self.broken is not None:
                return self.broken
            self.broken = self._check(row)
            if self.broken is None:
                self.checked += 1
                self.last_seq, self.last_hash = row.seq, row.hash
        return self.broken

    def _check(self, row: ChainRow) -> Break | None:
        if row.seq != self.last_seq + 1:
            return Break(self.last_seq + 1, f"row {self.last_seq + 1} is missing (the next row is {row.seq})")
        if row.prev_hash != self.last_hash:
            return Break(row.seq, "prev_hash is not the previous row's hash")
        if hash_of(row) != row.hash:
            return Break(row.seq, "the row's fields do not match its hash")
        for participant_id, digest in zip(row.participant_ids, row.digests, strict=False):
            if participant_id is not None and participant_digest(participant_id) != digest:
                return Break(row.seq, "a participant id does not match its digest")
        return None

    def finish(self, head_seq: int | None, head_hash: str | None) -> Break | None:
        if self.broken is not None:
            return self.broken
        if head_seq is None:
            head_seq, head_hash = 0, GENESIS
        if head_seq > self.last_seq:
            self.broken = Break(
                self.last_seq + 1,
                f"rows {self.last_seq + 1} to {head_seq} are missing (the chain's head names {head_seq})",
            )
        elif head_seq < self.last_seq:
            self.broken = Break(head_seq + 1, f"row {head_seq + 1} is beyond the chain's head ({head_seq})")
        elif head_hash != self.last_hash:
            self.broken = Break(self.last_seq, "the last row's hash is not the one the chain's head holds")
        return self.broken


def first_break(rows: Iterable[ChainRow], head_seq: int | None, head_hash: str | None) -> Break | None:
    """The first row of ``rows`` (in ``seq`` order, from 1) that does not verify, or None."""
    checker = ChainChecker()
    checker.feed(rows)
    return checker.finish(head_seq, head_hash)
