from __future__ import annotations

import time
import uuid

from libs.common.ids import uuid4_str, uuid7_str


def test_uuid4_ids_are_distinct_random_version_4_uuids() -> None:
    ids = [uuid4_str() for _ in range(1000)]
    assert len(set(ids)) == len(ids)
    for text in ids:
        parsed = uuid.UUID(text)
        assert str(parsed) == text
        assert parsed.version == 4 and parsed.variant == uuid.RFC_4122
    assert ids != sorted(ids)  # random: 1,000 ids in rising order by chance is out of the question


def test_uuid7_ids_rise_within_the_process_and_carry_the_time_they_were_made() -> None:
    before_ms = time.time_ns() // 1_000_000
    ids = [uuid7_str() for _ in range(10_000)]  # many within one millisecond: the counter keeps order
    after_ms = time.time_ns() // 1_000_000
    assert ids == sorted(ids)
    assert len(set(ids)) == len(ids)
    for text in (ids[0], ids[-1]):
        parsed = uuid.UUID(text)
        assert str(parsed) == text
        assert parsed.version == 7 and parsed.variant == uuid.RFC_4122
        assert before_ms <= parsed.int >> 80 <= after_ms  # the first 48 bits: Unix time in ms
