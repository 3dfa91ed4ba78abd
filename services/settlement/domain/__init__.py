"""Settlement's pure rules (no framework, no database)."""

from services.settlement.domain.calculation import (
    ComputedMonth,
    Enrolment,
    RecordedStatus,
    Validity,
    compute_months,
    window_for,
)
from services.settlement.domain.months import (
    Month,
    MonthFee,
    Window,
    follow_up_window,
    month_fee,
    months_of,
    round_ore,
)
from services.settlement.domain.statements import (
    IssuedLine,
    Line,
    LineKind,
    LineRef,
    Totals,
    build_statement,
    cap_effect,
    content_hash,
    participant_lines,
    split_cumulative,
)
from services.settlement.domain.terms import TermsVersion, terms_in_force

__all__ = [
    "ComputedMonth",
    "Enrolment",
    "IssuedLine",
    "Line",
    "LineKind",
    "LineRef",
    "Month",
    "MonthFee",
    "RecordedStatus",
    "TermsVersion",
    "Totals",
    "Validity",
    "Window",
    "build_statement",
    "cap_effect",
    "compute_months",
    "content_hash",
    "follow_up_window",
    "month_fee",
    "months_of",
    "participant_lines",
    "round_ore",
    "split_cumulative",
    "terms_in_force",
    "window_for",
]
