"""Restoring statements from their own events on the stream (a rebuild): the document is stored again
only if it hashes to the sha256 it was issued with."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from libs.common.clock import utcnow
from libs.common.contracts import StatementIssuedV1, StatementIssuedV2, StatementLinesV1
from libs.common.logging import get_logger
from libs.common.uow import UnitOfWork
from services.settlement.domain import content_hash
from services.settlement.domain.statements import (
    DocumentHash,
    canonical_line,
)
from services.settlement.models import StatementLinePartRow, StatementRow
from services.settlement.repository import StatementRepository
from services.settlement.repository.statements import (
    LineValues,
    add_line_values,
    add_lines,
    add_part,
    drop_parts,
    has_part,
    part_numbers,
    parts_of,
)

log = get_logger(__name__)
ZERO = Decimal("0.00")


def _canonical(values: LineValues) -> str:
    line_no, kind, participant_id, month, amount, corrects_statement_id, corrects_line_no = values
    return canonical_line(
        line_no, kind, participant_id, month, str(amount), corrects_statement_id, corrects_line_no
    )


async def restore_statement(uow: UnitOfWork, event: StatementIssuedV1) -> bool:
    """Store a statement from its own statement.issued.v1 event (the whole document in one event)
    unless it is stored already (a rebuild replays them). The restored document must hash to the
    sha256 it was issued with."""
    statements = StatementRepository(uow.session)
    if await statements.get(event.statement_id) is not None:
        return False
    if event.lines is None or event.totals is None or event.terms_version is None:
        raise ValueError("statement.issued without its document (lines, totals, terms_version)")
    header = _header_of(event, event.terms_version)
    totals = {name: str(value) for name, value in event.totals.items()}
    lines = [line.model_dump(mode="json") for line in event.lines]
    if content_hash(header | {"lines": lines, "totals": totals}) != event.sha256:
        raise ValueError(f"statement {event.statement_id} does not match its sha256")
    await _add_row(uow, event, header | {"totals": totals}, len(lines))
    await statements.flush()
    await add_lines(
        uow.session,
        [
            line | {"statement_id": event.statement_id, "programme_id": event.programme_id,
                    "amount_dkk": Decimal(line["amount_dkk"])}
            for line in lines
        ],
    )  # fmt: skip
    return True


async def restore_lines(uow: UnitOfWork, event: StatementLinesV1) -> bool:
    """Keep a part of a statement's lines until its statement.issued.v2 arrives; nothing to do when
    the statement is stored (live, it is settlement's own event) or the part is kept already."""
    if await StatementRepository(uow.session).get(event.statement_id) is not None:
        return False
    if await has_part(uow.session, event.statement_id, event.part):
        return False
    add_part(
        uow.session,
        StatementLinePartRow(
            statement_id=event.statement_id,
            part=event.part,
            programme_id=event.programme_id,
            first_line_no=event.first_line_no,
            lines=[
                [kind, pid, month, str(amount), sid, no] for kind, pid, month, amount, sid, no in event.lines
            ],
            received_at=utcnow(),
        ),
    )
    return True


async def restore_statement_v2(uow: UnitOfWork, event: StatementIssuedV2) -> bool:
    """Store a statement from its statement.issued.v2 and the parts of its lines received before it,
    unless it is stored already. The document made of them must hash to the sha256 it was issued
    with; a missing part or a mismatch is an error (the event is retried, then dead-lettered)."""
    statements = StatementRepository(uow.session)
    if await statements.get(event.statement_id) is not None:
        return False
    have = await part_numbers(uow.session, event.statement_id)
    if have != list(range(1, event.parts + 1)):
        raise ValueError(
            f"statement {event.statement_id}: {len(have)} of its {event.parts} parts of lines are here"
        )
    header = _header_of(event, event.terms_version)
    totals = {name: str(value) for name, value in event.totals.items()}
    await _add_row(uow, event, header | {"totals": totals}, event.line_count)
    await statements.flush()
    digest = DocumentHash(header)
    count = 0
    async for first_line_no, lines in parts_of(uow.session, event.statement_id):
        if first_line_no != count + 1:
            raise ValueError(f"statement {event.statement_id}: its parts of lines do not follow on")
        values: list[LineValues] = [
            (number, kind, pid, month, Decimal(amount), sid, no)
            for number, (kind, pid, month, amount, sid, no) in enumerate(lines, start=first_line_no)
        ]
        digest.add([_canonical(row) for row in values])
        await add_line_values(uow.session, event.statement_id, event.programme_id, values)
        count += len(values)
    if count != event.line_count or digest.hexdigest(header | {"totals": totals}) != event.sha256:
        raise ValueError(f"statement {event.statement_id} does not match its sha256")
    await drop_parts(uow.session, event.statement_id)
    return True


def _header_of(event: StatementIssuedV1 | StatementIssuedV2, terms_version: int) -> dict[str, Any]:
    """The hashed header: a statement issued from a draft (it has a number) holds its number and no
    time, so its draft hashed the same; one issued before drafts held its issued_at."""
    header: dict[str, Any] = {
        "statement_id": event.statement_id,
        "programme_id": event.programme_id,
        "period": event.period,
        "covers_through": event.covers_through,
        "terms_version": terms_version,
    }
    if isinstance(event, StatementIssuedV2) and event.number is not None:
        return header | {"number": event.number}
    return header | {"issued_at": event.issued_at.isoformat()}


async def _add_row(
    uow: UnitOfWork, event: StatementIssuedV1 | StatementIssuedV2, content: dict[str, Any], line_count: int
) -> None:
    number = event.number if isinstance(event, StatementIssuedV2) else None
    if number is None:  # issued before statements had numbers: they are restored in issue order
        number = await StatementRepository(uow.session).count(event.programme_id) + 1
    uow.session.add(
        StatementRow(
            statement_id=event.statement_id,
            programme_id=event.programme_id,
            period=event.period,
            covers_through=event.covers_through,
            issued_at=event.issued_at,
            issued_by=event.issued_by or "",
            content=content,
            sha256=event.sha256,
            line_count=line_count,
            number=number,
        )
    )
