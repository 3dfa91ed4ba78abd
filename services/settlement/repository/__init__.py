"""Settlement's queries, one module per table family: add and flush, never commit (the use case's unit
of work commits). The names other code imports are re-exported here."""

from services.settlement.repository.disputes import DisputeRepository
from services.settlement.repository.drafts import DraftRepository
from services.settlement.repository.facts import EnrolmentRow, FactsRepository, RecordTuple
from services.settlement.repository.learning import MeasurementRepository, SpendingRepository
from services.settlement.repository.months import MONTH_ROW, MONTH_VALUES, MonthRepository
from services.settlement.repository.parties import PartiesRepository
from services.settlement.repository.statements import StatementRepository
from services.settlement.repository.terms import TermsRepository

__all__ = [
    "MONTH_ROW",
    "MONTH_VALUES",
    "DisputeRepository",
    "DraftRepository",
    "EnrolmentRow",
    "FactsRepository",
    "MeasurementRepository",
    "MonthRepository",
    "PartiesRepository",
    "RecordTuple",
    "SpendingRepository",
    "StatementRepository",
    "TermsRepository",
]
