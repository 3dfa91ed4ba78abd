"""What a period's statement is made of, computed from the programme's current data: its header (the
plan), its lines streamed from the ledger through the domain's ``LineStream``, and its totals. Issuing
writes the lines (``issue.py``); a draft only hashes them (or shows them), so it costs one ledger pass
and no writes."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from sqlalchemy import select

from libs.common.errors import NotFound
from libs.common.uow import UnitOfWork
from services.settlement.domain import Month, terms_in_force
from services.settlement.domain.months import ORE
from services.settlement.domain.statements import (
    DocumentHash,
    LineKind,
    LineStream,
    NewLine,
    Totals,
    canonical_line,
    finish_statement,
)
from services.settlement.models import ProgrammeTermsRow
from services.settlement.repository import StatementRepository
from services.settlement.repository.erasure import ErasureRepository
from services.settlement.repository.statements import LineValues, ledger, previous_cap
from services.settlement.services.programme_facts import terms_versions

KIND_TEXT = {kind: kind.value for kind in LineKind}
# The fields of a statement's document its sha256 covers, besides ``lines`` and ``totals``. Nothing in it
# depends on when or by whom it is approved, so a draft hashes to the sha256 it is issued with.
HASHED_HEADER = ("statement_id", "programme_id", "period", "covers_through", "terms_version", "number")


@dataclass(frozen=True)
class Plan:
    """A period's statement as the programme's data stands: everything but its lines and totals."""

    statement_id: str
    programme_id: str
    period: str
    covers_through: str
    terms_version: int
    number: int
    total_cap: Decimal
    investor_percent: Decimal

    def header(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in HASHED_HEADER}

    def content(self, totals: Totals) -> dict[str, Any]:
        """The hashed document without its lines: the header and the totals (amounts as text)."""
        return self.header() | {"totals": {name: str(value) for name, value in vars(totals).items()}}


async def lock_programme(uow: UnitOfWork, programme_id: str) -> None:
    """Statements and drafts of one programme are made one at a time (row lock on PostgreSQL)."""
    await uow.session.execute(
        select(ProgrammeTermsRow.version)
        .where(ProgrammeTermsRow.programme_id == programme_id)
        .with_for_update()
    )


async def plan_statement(uow: UnitOfWork, programme_id: str, period: Month, statement_id: str) -> Plan:
    """The header the period's statement gets if issued now under ``statement_id``; its number follows
    the programme's issued statements."""
    versions = await terms_versions(uow, programme_id)
    if not versions:
        raise NotFound(f"No programme {programme_id}.")
    version = terms_in_force(versions, period.last_day) or min(versions, key=lambda v: v.version)
    issued = await StatementRepository(uow.session).count(programme_id)
    return Plan(
        statement_id=statement_id,
        programme_id=programme_id,
        period=str(period),
        covers_through=str(period.plus(-version.terms.settlement_lag_months)),
        terms_version=version.version,
        number=issued + 1,
        total_cap=version.terms.total_cap_dkk,
        investor_percent=version.terms.split.investor_percent,
    )


class LineRun:
    """The statement's new lines, a batch at a time (``batches``), then its ``totals``: the programme's
    ledger streamed once through ``LineStream``, the cap line last."""

    def __init__(self, uow: UnitOfWork, plan: Plan) -> None:
        self.uow = uow
        self.plan = plan
        self.totals: Totals | None = None

    async def batches(self) -> AsyncIterator[list[NewLine]]:
        plan = self.plan
        cap_before = await previous_cap(self.uow.session, plan.programme_id)
        # An erased participant's months are gone: what was invoiced for them stands, uncorrected.
        stream = LineStream(settled=await ErasureRepository(self.uow.session).all_erased())
        async for rows in ledger(self.uow.session, plan.programme_id, plan.covers_through):
            yield stream.feed(rows)
        yield stream.finish()
        cap_line, self.totals = finish_statement(stream, cap_before, plan.total_cap, plan.investor_percent)
        if cap_line:
            yield [cap_line]


def number_lines(lines: list[NewLine], first: int) -> tuple[list[LineValues], list[str]]:
    """The lines numbered from ``first`` as stored (amounts with øre, as Money stores them) and their
    canonical text: the one rule for a draft's hash and an issued statement's, so the two cannot differ."""
    values: list[LineValues] = []
    canonical: list[str] = []
    for number, (kind, participant_id, month, amount, corrects_id, corrects_no) in enumerate(lines, first):
        amount, kind_text = amount.quantize(ORE), KIND_TEXT[kind]
        values.append((number, kind_text, participant_id, month, amount, corrects_id, corrects_no))
        canonical.append(
            canonical_line(number, kind_text, participant_id, month, str(amount), corrects_id, corrects_no)
        )
    return values, canonical


class HashWriter:
    """Hashes the lines into the document's sha256 and counts them, writing nothing; with ``keep``,
    also holds the latest batch as line dicts (``take``) for a reader of the draft."""

    def __init__(self, header: dict[str, Any], keep: bool = False) -> None:
        self.hash = DocumentHash(header)
        self.count = 0
        self.keep = keep
        self._kept: list[dict[str, Any]] = []

    def add(self, lines: list[NewLine]) -> None:
        values, canonical = number_lines(lines, self.count + 1)
        if self.keep:
            self._kept += [
                {"line_no": number, "kind": kind_text, "participant_id": participant_id, "month": month,
                 "amount_dkk": str(amount), "corrects_statement_id": corrects_id, "corrects_line_no": corrects_no}
                for number, kind_text, participant_id, month, amount, corrects_id, corrects_no in values
            ]  # fmt: skip
        self.hash.add(canonical)
        self.count += len(lines)

    def take(self) -> list[dict[str, Any]]:
        kept, self._kept = self._kept, []
        return kept


@dataclass(frozen=True)
class Computed:
    plan: Plan
    totals: Totals
    content: dict[str, Any]
    sha256: str
    line_count: int


async def compute_statement(uow: UnitOfWork, plan: Plan) -> Computed:
    """The statement's totals and sha256 as the data stands: one ledger pass, nothing written."""
    run, writer = LineRun(uow, plan), HashWriter(plan.header())
    async for lines in run.batches():
        writer.add(lines)
    assert run.totals is not None
    content = plan.content(run.totals)
    return Computed(plan, run.totals, content, writer.hash.hexdigest(content), writer.count)
