"""Settlement's request and response models, one module per group of routes."""

from services.settlement.schemas.drafts import ApprovalRequest, DraftList, DraftOut, DraftSummaryOut
from services.settlement.schemas.learning import (
    LearningKpiOut,
    LearningTrackOut,
    LearningYearOut,
    MunicipalSpendingCorrection,
    MunicipalSpendingIn,
    MunicipalSpendingList,
    MunicipalSpendingOut,
    ProgressionCellOut,
    ProgressionSummaryOut,
    SpendingHistoryEntry,
)
from services.settlement.schemas.months import (
    DecidingPeriod,
    DryRunChange,
    DryRunOut,
    DryRunRecord,
    DryRunRequest,
    ExplanationOut,
    MonthList,
    MonthOut,
)
from services.settlement.schemas.programmes import (
    ProgrammeTermsOut,
    TermsVersionOut,
)
from services.settlement.schemas.statements import (
    InvestorLineOut,
    InvestorStatementList,
    InvestorStatementOut,
    LineOut,
    StatementList,
    StatementOut,
    StatementRequest,
    SummaryOut,
)

__all__ = [
    "ApprovalRequest",
    "DecidingPeriod",
    "DraftList",
    "DraftOut",
    "DraftSummaryOut",
    "DryRunChange",
    "DryRunOut",
    "DryRunRecord",
    "DryRunRequest",
    "ExplanationOut",
    "InvestorLineOut",
    "InvestorStatementList",
    "InvestorStatementOut",
    "LearningKpiOut",
    "LearningTrackOut",
    "LearningYearOut",
    "LineOut",
    "MonthList",
    "MonthOut",
    "MunicipalSpendingCorrection",
    "MunicipalSpendingIn",
    "MunicipalSpendingList",
    "MunicipalSpendingOut",
    "ProgrammeTermsOut",
    "ProgressionCellOut",
    "ProgressionSummaryOut",
    "SpendingHistoryEntry",
    "StatementList",
    "StatementOut",
    "StatementRequest",
    "SummaryOut",
    "TermsVersionOut",
]
