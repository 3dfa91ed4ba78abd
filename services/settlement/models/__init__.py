"""Settlement's tables, one module per part of the domain (imported here, so the metadata holds all)."""

from services.settlement.models.base import Base
from services.settlement.models.disputes import DisputeLineRow, DisputeRow, DisputeStepRow
from services.settlement.models.facts import (
    CutoffRow,
    ErasedParticipantRow,
    MeasurementCopyRow,
    ParticipantRow,
    RecordSequenceRow,
    SequenceGapRow,
    StatusRecordRow,
)
from services.settlement.models.invoices import InvoiceCounterRow, InvoiceRow, PaymentRow
from services.settlement.models.learning import EconomicAssumptionsRow, MunicipalSpendingRow
from services.settlement.models.months import MonthRow
from services.settlement.models.programmes import ProgrammePartiesRow, ProgrammeTermsRow
from services.settlement.models.statements import (
    StatementDraftRow,
    StatementLinePartRow,
    StatementLineRow,
    StatementRow,
)

__all__ = [
    "Base",
    "CutoffRow",
    "DisputeLineRow",
    "DisputeRow",
    "DisputeStepRow",
    "EconomicAssumptionsRow",
    "ErasedParticipantRow",
    "InvoiceCounterRow",
    "InvoiceRow",
    "MeasurementCopyRow",
    "MonthRow",
    "MunicipalSpendingRow",
    "ParticipantRow",
    "PaymentRow",
    "ProgrammePartiesRow",
    "ProgrammeTermsRow",
    "RecordSequenceRow",
    "SequenceGapRow",
    "StatementDraftRow",
    "StatementLinePartRow",
    "StatementLineRow",
    "StatementRow",
    "StatusRecordRow",
]
