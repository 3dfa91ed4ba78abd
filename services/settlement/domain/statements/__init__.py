"""Settlement statements (DOMAIN.md "Settlement statements").

A statement for period P covers every (citizen, month) with month <= P - settlement_lag_months that is
not provisional. Lines: ``fee`` for a month invoiced for the first time, ``adjustment`` for the
difference when a correction changed an invoiced month (referring to the line it corrects), and ``cap``
for the effect of the total cap. Everything is derived from cumulative amounts, so for every (citizen,
month) the sum of its lines over all statements equals its current fee, cumulative invoiced equals
min(cap, cumulative earned), and the investor/provider split of the cumulative total never depends on
the order of events or corrections.
"""

from services.settlement.domain.statements.document import (
    DocumentHash,
    canonical_json,
    canonical_line,
    content_hash,
)
from services.settlement.domain.statements.lines import (
    CURRENT,
    INVOICED,
    ZERO,
    IssuedLine,
    Key,
    LedgerRow,
    Line,
    LineKind,
    LineRef,
    LineStream,
    NewLine,
    Totals,
    build_statement,
    cap_effect,
    finish_statement,
    ledger_rows,
    participant_lines,
    split_cumulative,
    to_line,
)

__all__ = [
    "CURRENT",
    "INVOICED",
    "ZERO",
    "DocumentHash",
    "IssuedLine",
    "Key",
    "LedgerRow",
    "Line",
    "LineKind",
    "LineRef",
    "LineStream",
    "NewLine",
    "Totals",
    "build_statement",
    "canonical_json",
    "canonical_line",
    "cap_effect",
    "content_hash",
    "finish_statement",
    "ledger_rows",
    "participant_lines",
    "split_cumulative",
    "to_line",
]
