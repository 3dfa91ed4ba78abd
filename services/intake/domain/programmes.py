"""Programme rules: when a repeated creation is the same request, and how terms versions follow each
other. A published version is never edited; a change is a new version with an effective date."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime

from libs.common.contracts import ProgrammeParties, ProgrammeTerms
from services.intake.domain.participants import InvalidInput


def first_day_after_month(month: str) -> date:
    """``2024-06`` -> 2024-07-01."""
    year, number = int(month[:4]), int(month[5:7])
    return date(year + number // 12, number % 12 + 1, 1)


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
    invoiced_through: str | None = None  # "YYYY-MM": the last month an issued statement covers

    @property
    def current(self) -> TermsVersion:
        return max(self.versions, key=lambda v: v.version)

    def is_same_creation(self, name: str, effective_from: date, terms: ProgrammeTerms) -> bool:
        """A retried creation carries the same name and first terms; anything else is a conflict."""
        first = min(self.versions, key=lambda v: v.version)
        return self.name == name and first.effective_from == effective_from and first.terms == terms

    def next_version(self, effective_from: date, terms: ProgrammeTerms) -> int | None:
        """The number of a new terms version, or None when it repeats the latest one (a retry).
        A version cannot take effect before the one it follows, nor on or before the last month an
        issued statement covers (it would reprice what was invoiced)."""
        latest = self.current
        if latest.effective_from == effective_from and latest.terms == terms:
            return None
        if self.invoiced_through is not None:
            first_open = first_day_after_month(self.invoiced_through)
            if effective_from < first_open:
                raise InvalidInput(
                    f"terms never reprice what was invoiced: statements cover {self.invoiced_through}, "
                    f"so a new version takes effect on {first_open.isoformat()} or later",
                    "effective_from",
                )
        if effective_from < latest.effective_from:
            raise InvalidInput(
                f"a new version cannot take effect before version {latest.version} "
                f"({latest.effective_from.isoformat()})",
                "effective_from",
            )
        return latest.version + 1

    def track_capacity(self, track: str) -> int | None:
        """Capacity of a track under the current terms; None when the track does not exist."""
        return self.current.terms.tracks.get(track)


@dataclass(frozen=True)
class PartiesVersion:
    version: int
    effective_from: date
    published_at: datetime
    recorded_by: str
    parties: ProgrammeParties


def next_parties_version(
    versions: Sequence[PartiesVersion], effective_from: date, parties: ProgrammeParties
) -> int | None:
    """The number of a new parties version, or None when it repeats the latest one (a retry). A
    version cannot take effect before the one it follows (a change is never back-dated over it)."""
    if not versions:
        return 1
    latest = max(versions, key=lambda v: v.version)
    if latest.effective_from == effective_from and latest.parties == parties:
        return None
    if effective_from < latest.effective_from:
        raise InvalidInput(
            f"a new version cannot take effect before version {latest.version} "
            f"({latest.effective_from.isoformat()})",
            "effective_from",
        )
    return latest.version + 1
