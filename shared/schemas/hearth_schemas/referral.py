"""Events of the referral service: how a member reaches the program and the initial assessment."""

from datetime import date, datetime
from typing import ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field

from .base import Event, Identifier, MemberId

ReferralSource = Literal["ehr", "aco", "care_manager", "algorithm"]
AssessmentMode = Literal["in_person", "video", "phone"]
ReferralOutcome = Literal["enrolled", "declined", "ineligible", "unable_to_reach", "closed"]


class ClaimEvidence(BaseModel):
    """One claim behind an algorithmic referral: why this member, from which claim, how old."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    claim_id: Identifier
    code: str = Field(max_length=16)
    service_date: date
    rule: str | None = Field(default=None, max_length=64)


class _ReferralEvent(Event):
    service: ClassVar[str] = "referral"


class ReferralReceived(_ReferralEvent):
    name: ClassVar[str] = "ReferralReceived"

    referral_id: Identifier
    member_id: MemberId
    source: ReferralSource
    referrer_id: Identifier
    referral_date: date
    received_at: datetime
    provider_org_id: Identifier | None = None
    goals_of_care_discussed: bool | None = None
    condition_group: str | None = Field(default=None, max_length=32)
    evidence: list[ClaimEvidence] | None = None
    rule_set_version: str | None = None


class ReferralTriaged(_ReferralEvent):
    name: ClassVar[str] = "ReferralTriaged"

    referral_id: Identifier
    member_id: MemberId
    coordinator_id: Identifier
    provider_org_id: Identifier | None = None
    triaged_at: datetime


class AssessmentScheduled(_ReferralEvent):
    name: ClassVar[str] = "AssessmentScheduled"

    referral_id: Identifier
    member_id: MemberId
    scheduled_for: date
    mode: AssessmentMode


class AssessmentCompleted(_ReferralEvent):
    """The initial assessment, whatever the member decided: billing pays a fee for every one."""

    name: ClassVar[str] = "AssessmentCompleted"

    assessment_id: Identifier
    referral_id: Identifier
    member_id: MemberId
    provider_org_id: Identifier
    assessed_on: date
    mode: AssessmentMode
    decision: Literal["enrol", "decline"]
    age_years: int | None = Field(default=None, ge=0, le=130)
    primary_condition: str | None = Field(default=None, max_length=32)
    karnofsky: int | None = Field(default=None, ge=0, le=100)
    pps: int | None = Field(default=None, ge=0, le=100)
    nyha_class: int | None = Field(default=None, ge=1, le=4)
    ejection_fraction: int | None = Field(default=None, ge=0, le=100)
    fev1_percent: int | None = Field(default=None, ge=0, le=150)
    oxygen_lpm: float | None = Field(default=None, ge=0, le=15)
    albumin: float | None = Field(default=None, ge=0, le=10)
    inr: float | None = Field(default=None, ge=0, le=20)
    meld: int | None = Field(default=None, ge=6, le=40)
    cancer_stage: int | None = Field(default=None, ge=0, le=4)
    failed_therapy_lines: int | None = Field(default=None, ge=0, le=20)
    esas_total: int | None = Field(default=None, ge=0, le=100)
    surrogate_identified: bool = False
    surrogate_relationship: str | None = Field(default=None, max_length=32)
    goals_of_care_documented: bool = False
    advance_directive_on_file: bool = False
    hospice_eligible: bool | None = None
    hospice_elected: bool = False


class ReferralClosed(_ReferralEvent):
    name: ClassVar[str] = "ReferralClosed"

    referral_id: Identifier
    member_id: MemberId
    outcome: ReferralOutcome
    closed_at: datetime
