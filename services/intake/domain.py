"""Intake's pure rules (no framework): when a repeated programme creation is the same request."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from libs.common.contracts import ProgrammeTerms


@dataclass(frozen=True)
class TermsVersion:
    version: int
    effective_from: date
    published_at: datetime
    terms: ProgrammeTerms


@dataclass(frozen=True)
class Programme:
    programme_id: str
    name: str
    versions: tuple[TermsVersion, ...]

    @property
    def current(self) -> TermsVersion:
        return max(self.versions, key=lambda v: v.version)

    def is_same_creation(self, name: str, effective_from: date, terms: ProgrammeTerms) -> bool:
        """A retried creation carries the same name and first terms; anything else is a conflict."""
        first = min(self.versions, key=lambda v: v.version)
        return self.name == name and first.effective_from == effective_from and first.terms == terms
