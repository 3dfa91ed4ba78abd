"""Versioned event payload contracts shared by publishers and consumers."""

from libs.common.contracts.programme import (
    MonthRule,
    ProgrammeId,
    ProgrammeTerms,
    ProgrammeTermsPublishedV1,
    Split,
)
from libs.common.contracts.vocabulary import STATUS_CODES, StatusCategory, StatusCode

__all__ = [
    "STATUS_CODES",
    "MonthRule",
    "ProgrammeId",
    "ProgrammeTerms",
    "ProgrammeTermsPublishedV1",
    "Split",
    "StatusCategory",
    "StatusCode",
]
