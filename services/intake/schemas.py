"""Intake's request and response models."""

from __future__ import annotations

from datetime import date

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from libs.common.contracts import ProgrammeId, ProgrammeTerms


class ProgrammeCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    programme_id: ProgrammeId
    name: str = Field(min_length=1, max_length=200)
    effective_from: date | None = Field(
        default=None, description="First terms apply from; today when absent."
    )
    terms: ProgrammeTerms


class TermsVersionOut(BaseModel):
    version: int
    effective_from: date
    published_at: AwareDatetime
    terms: ProgrammeTerms


class ProgrammeOut(BaseModel):
    programme_id: str
    name: str
    current: TermsVersionOut
    versions: list[TermsVersionOut]


class ProgrammeList(BaseModel):
    items: list[ProgrammeOut]
