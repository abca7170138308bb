"""Events of the eligibility service: coverage, clinical decisions, tiers and enrolment."""

from datetime import date
from typing import ClassVar, Literal

from pydantic import Field

from .base import Event, Identifier, MemberId

DisenrolmentReason = Literal[
    "hospice_election", "death", "coverage_lost", "moved_out_of_area", "goals_met", "member_choice"
]


class _EligibilityEvent(Event):
    service: ClassVar[str] = "eligibility"


class EligibilityDetermined(_EligibilityEvent):
    """A decision at one stage: `coverage` on the referral date, `clinical` after the assessment."""

    name: ClassVar[str] = "EligibilityDetermined"

    determination_id: Identifier
    member_id: MemberId
    referral_id: Identifier | None = None
    stage: Literal["coverage", "clinical"]
    eligible: bool
    as_of: date
    reasons: list[str] = Field(default_factory=list)
    criteria_version: str | None = None
    plan_id: Identifier | None = None
    line_of_business: str | None = None
    provider_org_id: Identifier | None = None


class MemberEnrolled(_EligibilityEvent):
    name: ClassVar[str] = "MemberEnrolled"

    enrollment_id: Identifier
    member_id: MemberId
    provider_org_id: Identifier
    tier: str = Field(max_length=32)
    effective_date: date
    consent_on: date
    line_of_business: str | None = None
    market: str | None = None
    referral_id: Identifier | None = None
    assessment_id: Identifier | None = None


class TierChanged(_EligibilityEvent):
    name: ClassVar[str] = "TierChanged"

    enrollment_id: Identifier
    member_id: MemberId
    provider_org_id: Identifier
    from_tier: str = Field(max_length=32)
    to_tier: str = Field(max_length=32)
    effective_date: date


class MemberDisenrolled(_EligibilityEvent):
    """Effective dates may lie in the past: downstream services must act on late changes."""

    name: ClassVar[str] = "MemberDisenrolled"

    enrollment_id: Identifier
    member_id: MemberId
    provider_org_id: Identifier
    reason: DisenrolmentReason
    effective_date: date = Field(
        description="The first day the member is no longer in the program; the last enrolled day is the day before."
    )
