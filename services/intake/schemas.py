"""Intake's request and response models."""

from __future__ import annotations

from datetime import date

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from libs.common.contracts import (
    Creditor,
    Municipality,
    ProgrammeId,
    ProgrammeTerms,
    TrackName,
    WithdrawalReason,
)
from libs.common.cpr import MASKED_CPR
from libs.common.dates import WorldDate
from libs.common.ids import Uuid, WrittenText
from services.intake.domain import ErasureBasis, ErasureReason, ErasureState

CPR_DESCRIPTION = "CPR number, DDMMYY-SSSS or DDMMYYSSSS. Travels in bodies only, never in URLs."


class ProgrammeCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    programme_id: ProgrammeId
    name: str = Field(min_length=1, max_length=200)
    effective_from: WorldDate | None = Field(
        default=None, description="First terms apply from; today when absent."
    )
    terms: ProgrammeTerms


class TermsVersionCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    effective_from: WorldDate = Field(description="The new version applies from this date on.")
    terms: ProgrammeTerms


class TermsVersionOut(BaseModel):
    version: int
    effective_from: date
    published_at: AwareDatetime
    terms: ProgrammeTerms


class ProgrammeOut(BaseModel):
    programme_id: str
    name: str
    current: TermsVersionOut
    versions: list[TermsVersionOut]
    invoiced_through: str | None = Field(
        default=None,
        description="YYYY-MM: the last month issued statements cover; a new terms version takes effect "
        "after it",
    )


class ProgrammeList(BaseModel):
    items: list[ProgrammeOut]


class PartiesVersionCreate(BaseModel):
    """A new version of the programme's parties, whole (a version is never edited)."""

    model_config = ConfigDict(extra="forbid")

    effective_from: WorldDate = Field(description="The version applies from this date on.")
    municipality: Municipality
    provider: Creditor
    investor: Creditor


class BankAccountOut(BaseModel):
    iban: str | None = None
    bic: str | None = None
    reg_no: str | None = None
    account_no: str | None = None


class PartyOut(BaseModel):
    name: str
    cvr: str
    country: str
    street: str | None = None
    city: str | None = None
    postal_zone: str | None = None


class MunicipalityOut(PartyOut):
    gln: str


class CreditorOut(PartyOut):
    bank_account: BankAccountOut = Field(
        description="Whole for jobcenter and admin; for anyone else all but the last four characters "
        "of the numbers are replaced by *."
    )
    vat_registered: bool


class PartiesVersionOut(BaseModel):
    version: int
    effective_from: date
    published_at: AwareDatetime
    recorded_by: str = Field(description="The subject of the token that published the version.")
    municipality: MunicipalityOut
    provider: CreditorOut
    investor: CreditorOut


class PartiesOut(BaseModel):
    programme_id: str
    current: PartiesVersionOut | None = Field(description="The latest version; null before the first.")
    versions: list[PartiesVersionOut]


class Referral(BaseModel):
    model_config = ConfigDict(extra="forbid")

    programme_id: ProgrammeId
    cpr: str = Field(min_length=1, max_length=20, description=CPR_DESCRIPTION, repr=False)
    track: TrackName
    referred_on: WorldDate
    coach_name: str | None = Field(default=None, max_length=200)


class Enrolment(BaseModel):
    model_config = ConfigDict(extra="forbid")

    enrolled_on: WorldDate
    consent_given_on: WorldDate = Field(description="The citizen's consent; required to enrol.")


class Withdrawal(BaseModel):
    model_config = ConfigDict(extra="forbid")

    effective_on: WorldDate = Field(description="The follow-up window ends the day before this date.")
    reason: WithdrawalReason


class CoachChange(BaseModel):
    model_config = ConfigDict(extra="forbid")

    coach_name: str | None = Field(max_length=200, description="The coach now assigned; null to clear.")


class CprLookup(BaseModel):
    model_config = ConfigDict(extra="forbid")

    cpr: str = Field(min_length=1, max_length=20, description=CPR_DESCRIPTION, repr=False)


# The most CPR numbers one batch lookup takes (a status batch holds at most as many records).
LOOKUP_BATCH_MAX = 10_000


class CprBatchLookup(BaseModel):
    model_config = ConfigDict(extra="forbid")

    cprs: list[str] = Field(
        repr=False,
        min_length=1,
        max_length=LOOKUP_BATCH_MAX,
        description="CPR numbers, DDMMYY-SSSS or DDMMYYSSSS; up to 10,000. An invalid one is answered at "
        "its index and does not fail the others.",
    )


# The most participant ids one batch read takes (a status batch names at most as many participants).
READ_BATCH_MAX = 10_000


class ParticipantBatchRead(BaseModel):
    model_config = ConfigDict(extra="forbid")

    participant_ids: list[Uuid] = Field(
        min_length=1,
        max_length=READ_BATCH_MAX,
        description="Participant ids; up to 10,000. An id named twice is answered once.",
    )


class ParticipantOut(BaseModel):
    participant_id: str
    programme_id: str
    track: str
    status: str
    cpr_masked: str = Field(
        default=MASKED_CPR,
        description="Always ******-****: no part of the number, neither the birth date nor the sex digit. "
        "The number itself is `cpr`, for the jobcenter only.",
    )
    cpr: str | None = Field(
        repr=False, default=None, description="The full CPR number: only in responses to the jobcenter."
    )
    referred_on: date
    enrolled_on: date | None
    consent_given_on: date | None
    withdrawn_on: date | None = Field(
        description="Withdrawal effective date; the window ends the day before."
    )
    withdrawal_reason: WithdrawalReason | None
    coach_name: str | None
    created_at: AwareDatetime
    updated_at: AwareDatetime


class ParticipantPage(BaseModel):
    items: list[ParticipantOut]
    next_cursor: str | None = Field(description="Pass as `cursor` for the next page; null on the last page.")


class ParticipantList(BaseModel):
    items: list[ParticipantOut]


class LookupFound(BaseModel):
    index: int = Field(description="The position of the CPR in the request's `cprs`.")
    participants: list[ParticipantOut] = Field(
        description="The citizen's participations in the token's programmes (empty when none). `cpr` is "
        "null: the caller knows which number it sent at this index."
    )


class LookupRefused(BaseModel):
    index: int = Field(description="The position of the CPR in the request's `cprs`.")
    error: str = Field(description="What is wrong with the CPR number (never the number itself).")


class LookupBatchOut(BaseModel):
    items: list[LookupFound | LookupRefused] = Field(description="One per requested CPR, in request order.")


class AuditEntryOut(BaseModel):
    seq: int
    at: AwareDatetime
    actor: str
    role: str
    action: str = Field(description="write, read, lookup, rotate or access-export")
    endpoint: str
    participant_id: str | None
    correlation_id: str | None
    detail: str | None = Field(None, description="a key rotation's counts; never a CPR number")


class AuditPageOut(BaseModel):
    items: list[AuditEntryOut]
    next_cursor: str | None


class KeyRotationIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    after: Uuid | None = Field(
        None, description="resume after this participant id (`next_after` of the last answer)"
    )
    max_batches: int = Field(100, ge=1, le=1000, description="batches of 500 rows to do in this call")


class KeyRotationOut(BaseModel):
    scanned: int
    reencrypted: int
    repseudonymised: int
    unreadable: int = Field(description="rows no configured key decrypts: keep the old keys and investigate")
    batches: int
    next_after: str | None = Field(description="null when every row was done; else call again with it")


class ErasureOrderIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reason_code: ErasureReason = Field(description="Why the citizen's data is erased before retention ends")
    reason: WrittenText = Field(
        max_length=500, description="The jobcenter's words; never a CPR number (422). Dropped at the erasure."
    )


class ErasureOut(BaseModel):
    """An erasure order or a done erasure: never any of the erased personal data."""

    erasure_id: str
    participant_id: str
    programme_id: str
    state: ErasureState
    basis: ErasureBasis = Field(
        description="`order` (the jobcenter's) or `retention` (retention_years passed)"
    )
    reason_code: ErasureReason | None
    reason: str | None = Field(description="The order's reason until the erasure, then null")
    ordered_by: str | None = Field(description="The sub of the jobcenter user who ordered it")
    due: AwareDatetime | None = Field(description="An order is due when it is made; null for retention")
    erased_at: AwareDatetime | None


class ErasurePageOut(BaseModel):
    items: list[ErasureOut]
    next_cursor: str | None


class ErasureRunOut(BaseModel):
    erased: list[ErasureOut]
    waiting: list[str] = Field(
        description="Participants left for a later run: some of their events are not published yet"
    )
    held: list[str] = Field(
        description="Participants ordered erased but enrolled since, into a window that has not ended: "
        "their order waits for the window's end"
    )
