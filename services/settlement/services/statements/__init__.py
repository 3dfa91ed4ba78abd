"""Statements: drafts prepared, read and discarded (``drafts``), approved (``approval``), which issues
them (``issue``, over ``compute``); restoring them from the stream in a rebuild (``restore``), reading
them (``reads``) and the programme's summary (``summary``)."""

from services.settlement.services.statements.approval import FOUR_EYES, Approved, approve_draft
from services.settlement.services.statements.compute import HASHED_HEADER, compute_statement
from services.settlement.services.statements.drafts import (
    DraftDocument,
    DraftView,
    discard_draft,
    draft_view,
    list_drafts,
    prepare_draft,
    readable_draft,
)
from services.settlement.services.statements.issue import IssuedIn, issue_in, write_to_outbox
from services.settlement.services.statements.reads import (
    CITIZEN_LINE_COLUMNS,
    InvestorLine,
    InvestorStatement,
    citizen_lines,
    document,
    get_statement,
    investor_statement,
    list_statements,
    readable_statement,
    reads_citizen_lines,
    statement_fields,
)
from services.settlement.services.statements.restore import (
    restore_lines,
    restore_statement,
    restore_statement_v2,
)
from services.settlement.services.statements.summary import Summary, summary

__all__ = [
    "CITIZEN_LINE_COLUMNS",
    "FOUR_EYES",
    "HASHED_HEADER",
    "Approved",
    "DraftDocument",
    "DraftView",
    "InvestorLine",
    "InvestorStatement",
    "IssuedIn",
    "Summary",
    "approve_draft",
    "citizen_lines",
    "compute_statement",
    "discard_draft",
    "document",
    "draft_view",
    "get_statement",
    "investor_statement",
    "issue_in",
    "list_drafts",
    "list_statements",
    "prepare_draft",
    "readable_draft",
    "readable_statement",
    "reads_citizen_lines",
    "restore_lines",
    "restore_statement",
    "restore_statement_v2",
    "statement_fields",
    "summary",
    "write_to_outbox",
]
