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
from libs.common.contracts.progression import (
    INDICATOR_GROUPS,
    INDICATORS,
    CutoffAdvancedV1,
    MeasurementRecordedV1,
    MilestoneKind,
    MilestoneRecordedV1,
    StatusRecordedJson,
    StatusRecordedV1,
)
from libs.common.contracts.settlement import (
    LINES_PER_PART,
    MonthChange,
    MonthsRecalculatedV1,
    StatementIssuedV1,
    StatementIssuedV2,
    StatementLine,
    StatementLinesV1,
    StatementLineValues,
)
from libs.common.contracts.vocabulary import STATUS_CODES, StatusCategory, StatusCode

__all__ = [
    "INDICATORS",
    "INDICATOR_GROUPS",
    "LINES_PER_PART",
    "STATUS_CODES",
    "CprPseudonym",
    "CutoffAdvancedV1",
    "MeasurementRecordedV1",
    "MilestoneKind",
    "MilestoneRecordedV1",
    "MonthChange",
    "MonthRule",
    "MonthsRecalculatedV1",
    "ParticipantEnrolledV1",
    "ParticipantReferredV1",
    "ParticipantWithdrawnV1",
    "ProgrammeId",
    "ProgrammeTerms",
    "ProgrammeTermsPublishedV1",
    "Split",
    "StatementIssuedV1",
    "StatementIssuedV2",
    "StatementLine",
    "StatementLineValues",
    "StatementLinesV1",
    "StatusCategory",
    "StatusCode",
    "StatusRecordedJson",
    "StatusRecordedV1",
    "TrackName",
    "WithdrawalReason",
]
