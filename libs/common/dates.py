"""Dates inside the world: every date the platform takes lies between 1900-01-01 and 2100-12-31, and
"today" and "the current month" are Danish (a jobcenter's day ends at midnight in Copenhagen)."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Annotated
from zoneinfo import ZoneInfo

from pydantic import AfterValidator, Field

from libs.common.clock import utcnow

EARLIEST = date(1900, 1, 1)
LATEST = date(2100, 12, 31)
DENMARK = ZoneInfo("Europe/Copenhagen")

_RANGE = f"between {EARLIEST.isoformat()} and {LATEST.isoformat()}"

# A date a client gives: 422 naming the field outside the range.
WorldDate = Annotated[
    date,
    Field(
        ge=EARLIEST, le=LATEST, description=f"A date {_RANGE}", json_schema_extra={"example": "2024-03-15"}
    ),
]


def _world_datetime(value: datetime) -> datetime:
    if not EARLIEST <= value.date() <= LATEST:
        raise ValueError(f"must be {_RANGE}")
    return value


WorldDatetime = Annotated[datetime, AfterValidator(_world_datetime)]


def today_in_denmark(now: datetime | None = None) -> date:
    return (now or utcnow()).astimezone(DENMARK).date()


def current_month_in_denmark(now: datetime | None = None) -> tuple[int, int]:
    today = today_in_denmark(now)
    return today.year, today.month


def day_after(day: date) -> date | None:
    """The next day, or None after the last day a ``date`` can hold (nothing comes after it)."""
    return None if day == date.max else day + timedelta(days=1)


def iso_week_in_world(iso_week: str) -> str:
    """``YYYY-Www`` of a real ISO week whose days lie inside the world (ValueError otherwise)."""
    year_text, _, week_text = iso_week.partition("-W")
    try:
        monday = date.fromisocalendar(int(year_text), int(week_text), 1)
        sunday = date.fromisocalendar(int(year_text), int(week_text), 7)
    except ValueError as exc:
        raise ValueError(f"{iso_week} is no ISO week") from exc
    if monday < EARLIEST or sunday > LATEST:
        raise ValueError(f"the week's days must lie {_RANGE}")
    return iso_week


def period_not_ahead(period: str, now: datetime | None = None) -> str:
    """``YYYY-MM`` of a month from 1900 on that has begun in Denmark (ValueError otherwise)."""
    year, month = int(period[:4]), int(period[5:7])
    if year < EARLIEST.year:
        raise ValueError(f"must be {EARLIEST.year}-01 or later")
    current = current_month_in_denmark(now)
    if (year, month) > current:
        raise ValueError(f"is later than the current month ({current[0]:04d}-{current[1]:02d})")
    return period


def not_after_today(day: date, now: datetime | None = None) -> date:
    """A day that has begun in Denmark (ValueError otherwise)."""
    today = today_in_denmark(now)
    if day > today:
        raise ValueError(f"is later than today ({today.isoformat()}, Danish time)")
    return day
