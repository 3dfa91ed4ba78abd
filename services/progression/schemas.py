"""Progression's request and response models."""

from __future__ import annotations

from datetime import date

from pydantic import BaseModel

from libs.common.contracts import StatusCategory, StatusCode


class ProgrammeOut(BaseModel):
    programme_id: str
    name: str
    terms_version: int
    status_categories: dict[StatusCode, StatusCategory]
    data_complete_through: date | None
