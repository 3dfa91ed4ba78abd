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


def test_every_date_a_request_model_takes_is_bounded_to_1900_2100() -> None:
    """DOMAIN: every date the platform takes lies between 1900-01-01 and 2100-12-31. Each request model
    (extra="forbid") of each service refuses a date outside that range in every date field it has."""
    import datetime as dt
    import inspect

    from pydantic import BaseModel, ValidationError

    from services.intake import schemas as intake
    from services.progression import schemas as progression
    from services.settlement import schemas as settlement

    checked = 0
    for module in (intake, progression, settlement):
        for _, model in inspect.getmembers(module, inspect.isclass):
            if not issubclass(model, BaseModel) or model.model_config.get("extra") != "forbid":
                continue
            for name, info in model.model_fields.items():
                if info.annotation is not dt.date and "datetime.date" not in str(info.annotation):
                    continue
                for outside in ("1899-12-31", "2101-01-01"):
                    try:
                        model.__pydantic_validator__.validate_assignment(
                            model.model_construct(), name, outside
                        )
                    except ValidationError as exc:
                        assert any(e["loc"][0] == name for e in exc.errors()), (model, name)
                    else:
                        raise AssertionError(f"{model.__name__}.{name} took {outside}")
                checked += 1
    assert checked == 15  # the request date fields of intake, progression and settlement
