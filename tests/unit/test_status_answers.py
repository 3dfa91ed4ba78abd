"""The batch answer serialised straight from the stored records is the one ``StatusBatchOut`` documents."""

from __future__ import annotations

import json
from dataclasses import asdict
from datetime import UTC, date, datetime, timedelta, timezone

from hypothesis import given
from hypothesis import strategies as st

from libs.common.contracts import StatusCode
from services.progression.api.status import batch_answer_json, record_out
from services.progression.models import StatusRecordRow
from services.progression.schemas import StatusBatchOut
from services.progression.services.status import StoredRecord

codes = st.sampled_from([code.value for code in StatusCode])
days = st.dates(min_value=date(2000, 1, 1), max_value=date(2040, 12, 31))
# Hypothesis takes naive bounds and puts the drawn times in the zones given.
moments = st.datetimes(
    min_value=datetime(2020, 1, 1),  # noqa: DTZ001
    max_value=datetime(2040, 1, 1),  # noqa: DTZ001
    timezones=st.just(UTC),
)


@st.composite
def records(draw: st.DrawFn) -> StoredRecord:
    start = draw(days)
    return StoredRecord(
        record_id=draw(st.uuids()).hex,
        participant_id=draw(st.text(min_size=1, max_size=12)),
        programme_id=draw(st.sampled_from(["hedensted-2022", "p-1"])),
        code=draw(codes),
        valid_from=start,
        valid_to=draw(st.none() | st.integers(0, 400).map(lambda n: start + timedelta(days=n))),
        recording_seq=draw(st.integers(1, 10**6)),
        recorded_at=draw(moments),
        source_record_id=draw(st.none() | st.text(min_size=1, max_size=12)),
    )


def as_row(record: StoredRecord, offset_hours: int) -> StatusRecordRow:
    """The record as read back from the database, its time in another zone (as_utc normalises it)."""
    zone = timezone(timedelta(hours=offset_hours))
    return StatusRecordRow(**asdict(record) | {"recorded_at": record.recorded_at.astimezone(zone)})


@given(
    fresh=st.lists(records(), max_size=3),
    known=st.lists(records(), max_size=3),
    offset=st.integers(-12, 12),
    created=st.integers(0, 10),
)
def test_the_batch_answer_is_the_documented_model(
    fresh: list[StoredRecord], known: list[StoredRecord], offset: int, created: int
) -> None:
    rows: list[StatusRecordRow | StoredRecord] = [*fresh, *(as_row(r, offset) for r in known)]
    documented = StatusBatchOut(created=created, records=[record_out(row) for row in rows])
    assert batch_answer_json(created, rows) == documented.model_dump_json().encode()
    # And it reads back as that model, every time in UTC whatever zone the database handed back.
    answer = json.loads(batch_answer_json(created, rows))
    assert StatusBatchOut.model_validate(answer) == documented
    assert [r["recorded_at"][-1] for r in answer["records"]] == ["Z"] * len(rows)
    assert [datetime.fromisoformat(r["recorded_at"]) for r in answer["records"]] == [
        r.recorded_at for r in [*fresh, *known]
    ]
