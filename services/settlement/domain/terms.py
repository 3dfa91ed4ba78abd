"""Settlement's pure rules (no framework)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from libs.common.contracts import ProgrammeTerms


@dataclass(frozen=True)
class TermsVersion:
    version: int
    effective_from: date
    terms: ProgrammeTerms


def terms_in_force(versions: list[TermsVersion], on: date) -> TermsVersion | None:
    """The version in force on a day: the latest effective on or before it (highest version on a tie).
    Versions may have arrived in any order; only their content decides."""
    candidates = [v for v in versions if v.effective_from <= on]
    if not candidates:
        return None
    return max(candidates, key=lambda v: (v.effective_from, v.version))
