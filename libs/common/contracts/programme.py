"""Programme contract terms (DOMAIN.md "Programme") and the event that publishes them.

The terms travel whole in ``programme.terms_published`` so a consumer never needs an HTTP call.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from enum import StrEnum
from typing import Annotated, Self

from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    ValidationInfo,
    field_validator,
    model_validator,
)

from libs.common.contracts.vocabulary import StatusCategory, StatusCode
from libs.common.events import EventPayload, register
from libs.common.ids import WrittenText

ProgrammeId = Annotated[
    str,
    Field(
        min_length=3,
        max_length=64,
        pattern=r"^[a-z0-9][a-z0-9-]*[a-z0-9]$",
        description="A slug such as `hedensted-2022`.",
    ),
]
TrackName = Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[a-z0-9_]+$")]


def _two_places(value: Decimal) -> Decimal:
    """One canonical form (øre), so equal amounts serialise and hash alike: 3500 -> 3500.00."""
    return value.quantize(Decimal("0.01"))


Dkk = Annotated[Decimal, Field(ge=0, max_digits=14, decimal_places=2), AfterValidator(_two_places)]
Percent = Annotated[Decimal, Field(ge=0, le=100, max_digits=5, decimal_places=2), AfterValidator(_two_places)]


class MonthRule(StrEnum):
    full_month = "full_month"
    pro_rata_days = "pro_rata_days"


class Split(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")
    investor_percent: Percent
    provider_percent: Percent

    @model_validator(mode="after")
    def _sums_to_100(self) -> Self:
        if self.investor_percent + self.provider_percent != 100:
            raise ValueError("investor_percent and provider_percent must add up to 100")
        return self


class VatCategory(StrEnum):
    """The UNCL5305 codes a programme uses."""

    exempt = "E"
    standard = "S"


class VatTerms(BaseModel):
    """A programme's VAT treatment on its invoices: exempt with a reason (a VATEX code and a text), or
    standard rated. The e-invoice builder takes it as it is (``services/settlement/einvoice/``)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    category: VatCategory
    percent: Percent = Decimal("0.00")
    exemption_reason_code: Annotated[str, Field(min_length=1, max_length=64)] | None = None
    exemption_reason: Annotated[str, Field(min_length=1, max_length=300)] | None = None

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        if self.category is VatCategory.exempt:
            if self.percent != 0:
                raise ValueError("an exempt VAT category has a rate of 0")
            if not (self.exemption_reason_code or self.exemption_reason):
                raise ValueError("an exempt VAT category needs an exemption reason")
        elif self.percent <= 0:
            raise ValueError("a standard VAT rate must be above 0")
        elif self.exemption_reason_code or self.exemption_reason:
            raise ValueError("only an exempt VAT category has an exemption reason")
        return self


# Social services are exempt (VAT directive art. 132(1)(g); momsloven § 13, stk. 1, nr. 2).
VAT_EXEMPT_SOCIAL = VatTerms(
    category=VatCategory.exempt,
    percent=Decimal("0"),
    exemption_reason_code="VATEX-EU-132-1G",
    exemption_reason="Exempt: services closely linked to welfare and social security work "
    "(momsloven § 13, stk. 1, nr. 2)",
)

# What a Danish municipality relies on for a jobcenter's employment effort; the jobcenter confirms or
# replaces it per programme (docs/privacy.md).
DEFAULT_LEGAL_BASIS = (
    "GDPR art. 6(1)(e) and 9(2)(b); lov om en aktiv beskæftigelsesindsats; lov om sygedagpenge"
)


class ProgrammeTerms(BaseModel):
    """One version of a programme's contract terms. Field order matters: later fields are checked
    against earlier ones (per-track values must name a track)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    tracks: dict[TrackName, Annotated[int, Field(gt=0, le=100_000)]] = Field(
        description="Capacity per track, e.g. {'sygedagpenge': 120, 'jobafklaring': 30}."
    )
    follow_up_months: Annotated[int, Field(ge=1, le=120)] = 24
    fee_per_month_dkk: Dkk = Field(description="Fee for one whole self-supporting month.")
    track_fee_per_month_dkk: dict[TrackName, Dkk] = Field(
        default_factory=dict, description="Optional fee per track, overriding fee_per_month_dkk."
    )
    month_rule: MonthRule = MonthRule.full_month
    total_cap_dkk: Dkk
    split: Split
    investment_dkk: Dkk = Decimal("0")
    status_categories: dict[StatusCode, StatusCategory] = Field(
        default_factory=dict, description="Overrides of the default category of status codes."
    )
    settlement_lag_months: Annotated[int, Field(ge=0, le=24)] = 2
    control_baseline_weeks: dict[TrackName, Annotated[Decimal, Field(ge=0, le=104)]] = Field(
        default_factory=dict,
        description="Control group's mean self-supporting weeks in 104 weeks, per track.",
    )
    target_uplift_weeks: Annotated[Decimal, Field(ge=0, le=104)] = Decimal("15")
    # Later fields have defaults, so terms stored and published before them still load.
    dispute_window_days: Annotated[int, Field(ge=1, le=365)] = Field(
        default=30, description="Days after a statement is issued in which a line may be disputed."
    )
    payment_terms_days: Annotated[int, Field(ge=0, le=365)] = Field(
        default=30, description="Days from an invoice's issue date to its due date."
    )
    vat: VatTerms = Field(
        default=VAT_EXEMPT_SOCIAL, description="VAT on the invoices: exempt (default) or standard."
    )
    retention_years: Annotated[int, Field(ge=1, le=30)] = Field(
        default=5,
        description="Years after the end of a citizen's window before their personal data is erased "
        "(5: the Danish bookkeeping act's period for accounting material).",
    )
    legal_basis: WrittenText = Field(
        default=DEFAULT_LEGAL_BASIS,
        max_length=500,
        description="The legal basis the municipality processes the citizens' data on; free text, "
        "never a CPR number (422).",
    )

    @field_validator("tracks")
    @classmethod
    def _at_least_one_track(cls, value: dict[str, int]) -> dict[str, int]:
        if not value:
            raise ValueError("at least one track is required")
        return value

    @field_validator("track_fee_per_month_dkk", "control_baseline_weeks")
    @classmethod
    def _keys_are_tracks(cls, value: dict[str, Decimal], info: ValidationInfo) -> dict[str, Decimal]:
        tracks = info.data.get("tracks")
        if tracks is not None:
            unknown = sorted(set(value) - set(tracks))
            if unknown:
                raise ValueError(
                    f"unknown track(s) {', '.join(unknown)}; tracks are {', '.join(sorted(tracks))}"
                )
        return value

    def fee_for_track(self, track: str) -> Decimal:
        return self.track_fee_per_month_dkk.get(track, self.fee_per_month_dkk)


@register
class ProgrammeTermsPublishedV1(EventPayload):
    event_type = "dk.sib.intake.programme.terms_published.v1"

    programme_id: ProgrammeId
    name: str
    version: int = Field(ge=1)
    effective_from: date
    published_at: AwareDatetime
    terms: ProgrammeTerms
