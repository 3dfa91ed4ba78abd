"""A statement's draft and its approval (docs/domain.md "Statement lifecycle")."""

from __future__ import annotations

from decimal import Decimal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from services.settlement.schemas.statements import LineOut


class DraftSummaryOut(BaseModel):
    """A draft as last prepared: no lines (read the draft for them, computed afresh)."""

    draft_id: str
    programme_id: str
    period: str
    state: str = Field(description="draft, discarded or issued")
    number: int = Field(description="The number its statement gets (as last computed)")
    sha256: str = Field(description="Of the document it would issue, as last computed")
    line_count: int
    totals: dict[str, Decimal]
    prepared_by: list[str] = Field(description="Subjects of everyone who prepared it")
    prepared_at: AwareDatetime
    computed_at: AwareDatetime
    closed_by: str | None = Field(description="Who approved or discarded it")
    closed_at: AwareDatetime | None
    statement_id: str | None = Field(description="Once issued: its statement (the draft's id)")


class DraftList(BaseModel):
    items: list[DraftSummaryOut]


class DraftOut(BaseModel):
    """A draft's document, computed afresh when read (while open): the statement its approval would
    issue now, with the sha256 to name in the approval. ``hashed`` names the fields the sha256 covers."""

    draft_id: str
    programme_id: str
    period: str
    state: str
    prepared_by: list[str]
    prepared_at: AwareDatetime
    statement_id: str | None = Field(
        default=None, description="Its statement's id (the draft's), once issued"
    )
    covers_through: str | None = None
    terms_version: int | None = None
    number: int
    lines: list[LineOut]
    totals: dict[str, Decimal]
    line_count: int
    sha256: str
    hashed: list[str]


class ApprovalRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    sha256: str = Field(
        pattern=r"^[0-9a-f]{64}$", description="The sha256 of the draft as reviewed (lowercase hex)"
    )
