"""The parties of a programme's contract (DOMAIN.md "Parties") and the event that publishes them.

The municipality receives the invoices (at its EAN/GLN number); the provider and the investor are paid
(into their bank accounts). Identifiers are checked with their own rules (``libs/rules/identifiers``)
and kept in their normal form, so one number has one spelling and a changed spelling is no new version.
An error names the rule, never the value.
"""

from __future__ import annotations

from datetime import date
from typing import Annotated, Self

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, field_validator, model_validator

from libs.common.contracts.programme import ProgrammeId
from libs.common.events import EventPayload, register
from libs.rules import identifiers

Name = Annotated[str, Field(min_length=1, max_length=200)]
AddressText = Annotated[str, Field(min_length=1, max_length=200)]


def _text(value: str) -> str:
    """Names and address parts without surrounding spaces; Peppol refuses an empty element."""
    text = value.strip()
    if not text:
        raise ValueError("cannot be blank")
    return text


class BankAccount(BaseModel):
    """Either an IBAN (with an optional BIC) or a Danish registration and account number, not both."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    iban: str | None = Field(default=None, max_length=64)
    bic: str | None = Field(default=None, max_length=32)
    reg_no: str | None = Field(default=None, max_length=16, description="Danish registration number.")
    account_no: str | None = Field(default=None, max_length=32, description="Danish account number.")

    @field_validator("iban")
    @classmethod
    def _iban(cls, value: str | None) -> str | None:
        return None if value is None else identifiers.iban(value)

    @field_validator("bic")
    @classmethod
    def _bic(cls, value: str | None) -> str | None:
        return None if value is None else identifiers.bic(value)

    @field_validator("reg_no")
    @classmethod
    def _reg_no(cls, value: str | None) -> str | None:
        # Checked alone (with a placeholder account) so the error names this field.
        return None if value is None else identifiers.danish_account(value, "1").reg

    @field_validator("account_no")
    @classmethod
    def _account_no(cls, value: str | None) -> str | None:
        return None if value is None else identifiers.danish_account("0000", value).account

    @model_validator(mode="after")
    def _exactly_one_kind(self) -> Self:
        danish = self.reg_no is not None or self.account_no is not None
        if self.iban is not None and danish:
            raise ValueError("give either an IBAN or a Danish reg_no and account_no, not both")
        if self.iban is None and not danish:
            raise ValueError("give either an IBAN or a Danish reg_no and account_no")
        if danish and (self.reg_no is None or self.account_no is None):
            raise ValueError("a Danish account needs both reg_no and account_no")
        if self.bic is not None and self.iban is None:
            raise ValueError("a BIC goes with an IBAN")
        return self

    def masked(self) -> BankAccount:
        """The account with all but the last four characters of its numbers hidden."""

        def hide(value: str | None) -> str | None:
            return None if value is None else "*" * max(len(value) - 4, 0) + value[-4:]

        return BankAccount.model_construct(
            iban=hide(self.iban),
            bic=self.bic,
            reg_no=self.reg_no and "****",
            account_no=hide(self.account_no),
        )


class Party(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    name: Name
    cvr: str = Field(max_length=16, description="CVR number: 8 digits, modulus-11 checked.")
    country: str = Field(default="DK", pattern=r"^[A-Z]{2}$", description="ISO 3166-1 alpha-2.")
    street: AddressText | None = None
    city: AddressText | None = None
    postal_zone: Annotated[str, Field(min_length=1, max_length=16)] | None = None

    @field_validator("name", "street", "city", "postal_zone")
    @classmethod
    def _trimmed(cls, value: str | None) -> str | None:
        return None if value is None else _text(value)

    @field_validator("cvr")
    @classmethod
    def _cvr(cls, value: str) -> str:
        return identifiers.cvr(value)


class Municipality(Party):
    """The buyer: receives invoices at its EAN/GLN number."""

    gln: str = Field(max_length=32, description="EAN/GLN number: 13 digits, GS1 check digit.")

    @field_validator("gln")
    @classmethod
    def _gln(cls, value: str) -> str:
        return identifiers.gln(value)


class Creditor(Party):
    """The provider or the investor: paid into its bank account."""

    bank_account: BankAccount
    vat_registered: bool = Field(
        default=True, description="Registered for VAT (its VAT number is DK + its CVR)."
    )


class ProgrammeParties(BaseModel):
    """One version of a programme's parties; a change (a new bank account) is a new version."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    municipality: Municipality
    provider: Creditor
    investor: Creditor


@register
class ProgrammePartiesPublishedV1(EventPayload):
    event_type = "dk.sib.intake.programme.parties_published.v1"

    programme_id: ProgrammeId
    version: int = Field(ge=1)
    effective_from: date
    published_at: AwareDatetime
    parties: ProgrammeParties
