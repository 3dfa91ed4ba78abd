"""The statement's lines as the CSV attached to each of its documents (AdditionalDocumentReference).

One row per line of the statement, as issued: the municipality checks every citizen-month against its
own records without the invoice carrying a person. Participants appear by their id, never a CPR number.
RFC 4180: a header row, CRLF line ends, UTF-8.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal

from services.settlement.einvoice.model import ORE, Attachment

COLUMNS = (
    "line_no",
    "kind",
    "participant_id",
    "month",
    "amount_dkk",
    "corrects_statement_id",
    "corrects_line_no",
)


@dataclass(frozen=True)
class StatementLineRow:
    """A line of the statement as issued (the statement's own columns)."""

    line_no: int
    kind: str
    participant_id: str | None
    month: str | None
    amount: Decimal
    corrects_statement_id: str | None = None
    corrects_line_no: int | None = None


_UNSAFE_IN_NAME = re.compile(r"[^A-Za-z0-9._-]+")


def _cell(value: object) -> str:
    return "" if value is None else str(value)


def statement_csv(rows: Iterable[StatementLineRow]) -> bytes:
    """The CSV bytes of a statement's lines."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(COLUMNS)
    for row in rows:
        if row.amount != row.amount.quantize(ORE):
            raise ValueError("a statement line's amount is in whole øre")
        writer.writerow(
            [
                row.line_no,
                row.kind,
                _cell(row.participant_id),
                _cell(row.month),
                f"{row.amount:.2f}",
                _cell(row.corrects_statement_id),
                _cell(row.corrects_line_no),
            ]
        )
    return out.getvalue().encode("utf-8")


def statement_attachment(statement_number: str, rows: Iterable[StatementLineRow]) -> Attachment:
    """The attachment holding a statement's lines, named after the statement."""
    return Attachment(
        reference=statement_number,
        filename=f"statement-{_UNSAFE_IN_NAME.sub('-', statement_number)}-lines.csv",
        content=statement_csv(rows),
        description=f"The lines of statement {statement_number}, one per citizen-month and kind",
    )
