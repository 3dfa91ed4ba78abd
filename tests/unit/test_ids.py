from __future__ import annotations

import uuid

from libs.common.ids import uuid4_str


def test_ids_are_distinct_version_4_uuids_across_pool_refills() -> None:
    ids = [uuid4_str() for _ in range(1000)]  # several refills of the 256-id pool
    assert len(set(ids)) == len(ids)
    for text in ids:
        parsed = uuid.UUID(text)
        assert str(parsed) == text
        assert parsed.version == 4 and parsed.variant == uuid.RFC_4122
