"""Statements: issuing one (``issue``), restoring them from the stream in a rebuild (``restore``), reading
them (``reads``) and the programme's summary (``summary``)."""

from services.settlement.services.statements.issue import Issued, issue_statement, write_to_outbox
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
)
from services.settlement.services.statements.restore import (
    restore_lines,
    restore_statement,
    restore_statement_v2,
)
from services.settlement.services.statements.summary import Summary, summary

__all__ = [
    "CITIZEN_LINE_COLUMNS",
    "InvestorLine",
    "InvestorStatement",
    "Issued",
    "Summary",
    "citizen_lines",
    "document",
    "get_statement",
    "investor_statement",
    "issue_statement",
    "list_statements",
    "readable_statement",
    "reads_citizen_lines",
    "restore_lines",
    "restore_statement",
    "restore_statement_v2",
    "summary",
    "write_to_outbox",
]
