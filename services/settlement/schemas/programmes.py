"""A programme's terms as settlement holds them."""

from __future__ import annotations

from datetime import date

from pydantic import BaseModel

from libs.common.contracts import ProgrammeTerms


class TermsVersionOut(BaseModel):
    version: int
    effective_from: date
    terms: ProgrammeTerms


class ProgrammeTermsOut(BaseModel):
    programme_id: str
    name: str
    in_force: TermsVersionOut | None
    versions: list[TermsVersionOut]
