"""A statement's document as it is hashed: canonical JSON (sorted keys, no spaces, decimals and dates as
strings) and its sha256, computed whole or as the lines stream past."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping


def canonical_json(content: object) -> bytes:
    """Sorted keys, no spaces, decimals and dates as strings: the bytes a statement's hash is over."""
    return json.dumps(
        content, sort_keys=True, separators=(",", ":"), default=str, ensure_ascii=False
    ).encode()


def content_hash(content: object) -> str:
    return hashlib.sha256(canonical_json(content)).hexdigest()


_encode = json.encoder.encode_basestring  # what json.dumps(ensure_ascii=False) quotes strings with


def _json_text(value: str | None) -> str:
    return "null" if value is None else _encode(value)


def canonical_line(
    line_no: int,
    kind: str,
    participant_id: str | None,
    month: str | None,
    amount_dkk: str,
    corrects_statement_id: str | None,
    corrects_line_no: int | None,
) -> str:
    """``canonical_json`` of one line of a statement's document, written out directly (the same bytes:
    a unit test holds them equal), because a statement can hold millions of lines."""
    return (
        f'{{"amount_dkk":{_encode(amount_dkk)},'
        f'"corrects_line_no":{"null" if corrects_line_no is None else int(corrects_line_no)},'
        f'"corrects_statement_id":{_json_text(corrects_statement_id)},'
        f'"kind":{_encode(kind)},"line_no":{int(line_no)},'
        f'"month":{_json_text(month)},"participant_id":{_json_text(participant_id)}}}'
    )


class DocumentHash:
    """sha256 of a statement's canonical JSON document (``content_hash`` of the whole document, lines
    included), computed as the lines stream past: ``lines`` is the only key that sorts before the
    header's ``period``, ``programme_id``, ``statement_id``, ``terms_version`` and ``totals``."""

    def __init__(self, header: Mapping[str, object]) -> None:
        self._before = self._split(header)[0]
        self._hash = hashlib.sha256(self._before.encode())
        self._first = True

    @staticmethod
    def _split(header: Mapping[str, object]) -> tuple[str, str]:
        text = canonical_json({**header, "lines": []}).decode()
        before, marker, after = text.partition('"lines":[]')
        if not marker or '"lines":[]' in after:
            raise ValueError("a statement's header must not contain lines")
        return before + '"lines":[', "]" + after

    def add(self, lines: Iterable[str]) -> None:
        """Canonical lines (``canonical_line``), in line order."""
        text = ",".join(lines)
        if text:
            self._hash.update((text if self._first else "," + text).encode())
            self._first = False

    def hexdigest(self, header: Mapping[str, object]) -> str:
        """The hash, given the whole header (with ``totals``, which sorts after the lines)."""
        before, after = self._split(header)
        if before != self._before:
            raise ValueError("the header changed while the lines were hashed")
        done = self._hash.copy()
        done.update(after.encode())
        return done.hexdigest()
