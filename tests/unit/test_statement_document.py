"""A statement's document is hashed as its lines stream past: the same sha256 as ``content_hash`` of
the whole document (so statements issued before keep theirs), and the lines made from sorted ledger
rows are those of the in-memory rules."""

from __future__ import annotations

import json
from decimal import Decimal

from hypothesis import given
from hypothesis import strategies as st

from services.settlement.domain import Month, content_hash
from services.settlement.domain.statements import (
    CURRENT,
    INVOICED,
    DocumentHash,
    IssuedLine,
    Line,
    LineKind,
    LineRef,
    LineStream,
    canonical_json,
    canonical_line,
    ledger_rows,
    participant_lines,
)

texts = st.text(max_size=12)  # any characters: quotes, backslashes, control characters, non-ASCII
maybe_texts = st.none() | texts
amounts = st.decimals(min_value=-99999, max_value=99999, places=2).map(str)
lines = st.tuples(
    st.integers(1, 10**7), st.sampled_from(["fee", "adjustment", "cap"]), maybe_texts, maybe_texts,
    amounts, maybe_texts, st.none() | st.integers(1, 10**7),
)  # fmt: skip
COLUMNS = (
    "line_no",
    "kind",
    "participant_id",
    "month",
    "amount_dkk",
    "corrects_statement_id",
    "corrects_line_no",
)


def as_dict(line: tuple[object, ...]) -> dict[str, object]:
    return dict(zip(COLUMNS, line, strict=True))


@given(lines)
def test_a_canonical_line_is_the_canonical_json_of_the_line(line: tuple[object, ...]) -> None:
    assert canonical_line(*line).encode() == canonical_json(as_dict(line))  # type: ignore[arg-type]


@given(st.lists(lines, max_size=8), st.integers(1, 4), texts)
def test_the_streamed_hash_is_the_hash_of_the_whole_document(
    document_lines: list[tuple[object, ...]], chunk: int, statement_id: str
) -> None:
    header: dict[str, object] = {
        "statement_id": statement_id,
        "programme_id": "p",
        "period": "2026-04",
        "covers_through": "2026-02",
        "issued_at": "2026-12-01T08:00:00+00:00",
        "terms_version": 1,
    }
    totals = {"net": "1.00", "cap": "0.00"}
    digest = DocumentHash(header)
    for start in range(0, len(document_lines), chunk):
        digest.add(canonical_line(*line) for line in document_lines[start : start + chunk])  # type: ignore[arg-type]
    whole = header | {"lines": [as_dict(line) for line in document_lines], "totals": totals}
    assert digest.hexdigest(header | {"totals": totals}) == content_hash(whole)


def test_a_changed_line_or_header_changes_the_hash() -> None:
    header: dict[str, object] = {"statement_id": "s", "covers_through": "2026-02"}
    line = (1, "fee", "p1", "2024-01", "3500.00", None, None)

    def digest(lines: list[tuple[object, ...]], head: dict[str, object]) -> str:
        hashed = DocumentHash(header)
        hashed.add(canonical_line(*item) for item in lines)  # type: ignore[arg-type]
        return hashed.hexdigest(head)

    assert digest([line], header) != digest([(*line[:4], "3500.01", None, None)], header)
    assert digest([line], header) != digest([], header)
    assert digest([line], header) != digest([line], header | {"period": "2026-04"})
    try:
        digest([line], header | {"covers_through": "2026-03"})  # sorts before the lines
    except ValueError:
        pass
    else:
        raise AssertionError("a header that changed after the lines is refused")


def test_the_canonical_json_of_a_line_is_what_json_dumps_writes() -> None:
    line = (7, "adjustment", 'a"b\\c\u00e6\n', None, "-1.50", "s1", 3)
    assert json.loads(canonical_line(*line)) == as_dict(line)


keys = st.tuples(
    st.sampled_from(["p1", "p2", "p10", "q"]), st.sampled_from([Month(2024, m) for m in (1, 2, 11)])
)
fees = st.decimals(min_value=0, max_value=4000, places=2)


@given(st.dictionaries(keys, fees, max_size=8), st.lists(st.tuples(keys, fees), max_size=8))
def test_streaming_in_chunks_gives_the_lines_of_the_rules(
    current: dict[tuple[str, Month], Decimal], history: list[tuple[tuple[str, Month], Decimal]]
) -> None:
    issued = [
        IssuedLine(LineRef(f"s{n // 3}", n), Line(LineKind.fee, amount, pid, month))
        for n, ((pid, month), amount) in enumerate(history)
    ]
    expected = participant_lines(current, issued)
    # What the database returns: zero fees left out, amounts as text (SQLite), in chunks of 2.
    rows = [
        (pid, month, source, str(amount), sid, no)
        for pid, month, source, amount, sid, no in ledger_rows(current, issued)
        if not (source == CURRENT and amount == 0)
    ]
    stream = LineStream()
    streamed = [line for start in range(0, len(rows), 2) for line in stream.feed(rows[start : start + 2])]
    streamed += stream.finish()
    assert [(kind, amount, pid, month) for kind, pid, month, amount, _, _ in streamed] == [
        (line.kind, line.amount, line.participant_id, str(line.month)) for line in expected
    ]
    assert stream.previous == sum((amount for _, amount in history), Decimal("0.00"))
    assert all(row[2] in (CURRENT, INVOICED) for row in rows)
