"""Progression's pure rules (no framework, no database)."""

from libs.rules.timeline import (
    Cutoff,
    DayCategory,
    Period,
    StatusRecord,
    cutoff_as_of,
    day_category,
    iso_week_range,
    known_as_of,
    resolve,
)
from services.progression.domain.measurements import change_since_first, group_averages
from services.progression.domain.programmes import effective_categories, is_newer_terms

__all__ = [
    "Cutoff",
    "DayCategory",
    "Period",
    "StatusRecord",
    "change_since_first",
    "cutoff_as_of",
    "day_category",
    "effective_categories",
    "group_averages",
    "is_newer_terms",
    "iso_week_range",
    "known_as_of",
    "resolve",
]
