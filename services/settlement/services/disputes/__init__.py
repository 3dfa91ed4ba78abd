"""Disputes of issued statements' lines (docs/domain.md "Disputes"): opening (``opening``), ending
(``closing``: upheld, rejected, withdrawn), reading (``reads``), each reader's view
(``views``). Rules: ``domain/disputes.py``."""

from services.settlement.services.disputes.closing import resolve_dispute, withdraw_dispute
from services.settlement.services.disputes.opening import Opened, Target, open_dispute
from services.settlement.services.disputes.reads import get_dispute, list_disputes
from services.settlement.services.disputes.views import (
    DisputedLine,
    DisputeList,
    DisputeView,
    HeldTotals,
    Step,
)

__all__ = [
    "DisputeList",
    "DisputeView",
    "DisputedLine",
    "HeldTotals",
    "Opened",
    "Step",
    "Target",
    "get_dispute",
    "list_disputes",
    "open_dispute",
    "resolve_dispute",
    "withdraw_dispute",
]
