"""Versioned event payload contracts shared by publishers and consumers."""

from libs.common.contracts.participant import (
    CprPseudonym,
    ParticipantEnrolledV1,
    ParticipantReferredV1,
    ParticipantWithdrawnV1,
    WithdrawalReason,
)
from libs.common.contracts.programme import (
    MonthRule,
    ProgrammeId,
    ProgrammeTerms,
    ProgrammeTermsPublishedV1,
    Split,
    TrackName,
)
from libs.common.contracts.vocabulary import STATUS_CODES, StatusCategory, StatusCode

__all__ = [
    "STATUS_CODES",
    "CprPseudonym",
    "MonthRule",
    "ParticipantEnrolledV1",
    "ParticipantReferredV1",
    "ParticipantWithdrawnV1",
    "ProgrammeId",
    "ProgrammeTerms",
    "ProgrammeTermsPublishedV1",
    "Split",
    "StatusCategory",
    "StatusCode",
    "TrackName",
    "WithdrawalReason",
]
