"""Determinations and enrolment: plain Python, no I/O.

A determination is one decision at one stage (coverage on the referral date, clinical after the
assessment) with the reasons and the explanation that justify it. An enrolment is a member's time
in the program with one provider organization and a tier; a member has at most one open
enrolment. `after_assessment` decides what an assessment does to a member's enrolment.
"""

import uuid
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from hearth_platform.errors import Conflict, Invalid, NotFound
from hearth_schemas import AssessmentCompleted

from .clinical import ClinicalDecision
from .coverage import CoverageSpan
from .tiers import TierAssignment

COVERAGE_IN_FORCE = "coverage_in_force"
NO_COVERAGE_ON_REFERRAL_DATE = "no_coverage_on_referral_date"
NO_COVERAGE_ON_ASSESSMENT_DATE = "no_coverage_on_assessment_date"


class NotEnrolled(Conflict):
    def __init__(self, member_id: str) -> None:
        super().__init__(f"member {member_id} is not enrolled")


class NeverEnrolled(NotFound):
    def __init__(self, member_id: str) -> None:
        super().__init__(f"member {member_id} has never been enrolled")


class DisenrolmentBeforeEnrolment(Invalid):
    def __init__(self, enrolment: "Enrolment", effective_date: date) -> None:
        super().__init__(
            f"effective_date {effective_date.isoformat()} is before the enrolment "
            f"{enrolment.enrollment_id} began on {enrolment.effective_date.isoformat()}",
            detail=[
                {"field": "effective_date", "reason": "must be on or after the enrolment's effective date"}
            ],
        )


@dataclass(frozen=True)
class Determination:
    determination_id: str
    member_id: str
    referral_id: str | None
    assessment_id: str | None
    stage: str
    eligible: bool
    outcome: str
    as_of: date
    reasons: list[str]
    criteria_version: str | None
    span: CoverageSpan | None
    provider_org_id: str | None
    explanation: dict[str, Any]
    determined_at: datetime


def coverage_determination(
    *, referral_id: str, member_id: str, referral_date: date, span: CoverageSpan | None, at: datetime
) -> Determination:
    """Stage `coverage`: is the member covered by a plan on the referral date?"""
    return Determination(
        determination_id=str(uuid.uuid4()),
        member_id=member_id,
        referral_id=referral_id,
        assessment_id=None,
        stage="coverage",
        eligible=span is not None,
        outcome="covered" if span else "not_covered",
        as_of=referral_date,
        reasons=[COVERAGE_IN_FORCE if span else NO_COVERAGE_ON_REFERRAL_DATE],
        criteria_version=None,
        span=span,
        provider_org_id=span.provider_org_id if span else None,
        explanation={"span_id": span.span_id if span else None, "on": referral_date.isoformat()},
        determined_at=at,
    )


@dataclass
class Enrolment:
    enrollment_id: str
    member_id: str
    provider_org_id: str
    tier: str
    tier_effective_date: date
    effective_date: date
    consent_on: date
    plan_id: str | None
    line_of_business: str | None
    market: str | None
    referral_id: str | None
    assessment_id: str | None
    enrolled_at: datetime
    ended_on: date | None = None
    end_reason: str | None = None
    changes: list[dict[str, Any]] = field(default_factory=list)

    @property
    def is_open(self) -> bool:
        return self.ended_on is None

    def change_tier(self, tier: str, effective_date: date, assessment_id: str | None) -> str:
        """Move to `tier` from `effective_date`; returns the tier left."""
        before = self.tier
        self.tier, self.tier_effective_date = tier, effective_date
        self.changes.append(
            {
                "kind": "tier_changed",
                "from_tier": before,
                "to_tier": tier,
                "effective_date": effective_date,
                "assessment_id": assessment_id,
            }
        )
        return before

    def disenrol(self, reason: str, effective_date: date) -> None:
        """End the enrolment: `effective_date` is the first day the member is no longer enrolled
        (it may lie in the past; the billing and quality services act on late changes)."""
        if not self.is_open:
            raise NotEnrolled(self.member_id)
        if effective_date < self.effective_date:
            raise DisenrolmentBeforeEnrolment(self, effective_date)
        self.ended_on, self.end_reason = effective_date, reason
        self.changes.append({"kind": "disenrolled", "reason": reason, "effective_date": effective_date})


@dataclass(frozen=True)
class Enrol:
    enrolment: Enrolment


@dataclass(frozen=True)
class ChangeTier:
    enrolment: Enrolment
    from_tier: str
    to_tier: str
    effective_date: date


@dataclass(frozen=True)
class Disenrol:
    enrolment: Enrolment
    reason: str
    effective_date: date


@dataclass(frozen=True)
class NoChange:
    reason: str


Action = Enrol | ChangeTier | Disenrol | NoChange


def after_assessment(
    assessment: AssessmentCompleted,
    clinical: ClinicalDecision,
    tier: TierAssignment,
    span: CoverageSpan | None,
    latest: Enrolment | None,
    *,
    at: datetime,
) -> Action:
    """What one assessment does to the member's enrolment.

    A member not enrolled is enrolled when clinically eligible, consenting (decision `enrol`) and
    covered on the assessment date, with the coverage span's attributed organization (else the
    assessing one). An enrolled member is never enrolled twice: a reassessment can move the tier
    (from the assessment date, unless it predates the current tier), and an adult's hospice
    election ends the enrolment.
    """
    on = assessment.assessed_on
    if latest is not None and latest.is_open:
        if assessment.hospice_elected and clinical.pathway.hospice_election_disenrols:
            if on < latest.effective_date:
                return NoChange("assessment_predates_enrolment")
            latest.disenrol("hospice_election", on)
            return Disenrol(latest, "hospice_election", on)
        if not (clinical.eligible and assessment.decision == "enrol") or tier.tier == latest.tier:
            return NoChange("already_enrolled")
        if on < latest.tier_effective_date:
            return NoChange("assessment_predates_current_tier")
        before = latest.change_tier(tier.tier, on, assessment.assessment_id)
        return ChangeTier(latest, before, tier.tier, on)
    if not clinical.eligible:
        return NoChange("clinical_criteria_not_met")
    if assessment.decision != "enrol":
        return NoChange("member_declined")
    if span is None:
        return NoChange(NO_COVERAGE_ON_ASSESSMENT_DATE)
    if latest is not None and latest.ended_on is not None and latest.ended_on > on:
        return NoChange("previous_enrolment_ends_after_assessment")
    return Enrol(
        Enrolment(
            enrollment_id=str(uuid.uuid4()),
            member_id=assessment.member_id,
            provider_org_id=span.provider_org_id or assessment.provider_org_id,
            tier=tier.tier,
            tier_effective_date=on,
            effective_date=on,
            consent_on=on,
            plan_id=span.plan_id,
            line_of_business=span.line_of_business,
            market=span.market,
            referral_id=assessment.referral_id,
            assessment_id=assessment.assessment_id,
            enrolled_at=at,
            changes=[
                {
                    "kind": "enrolled",
                    "tier": tier.tier,
                    "effective_date": on,
                    "assessment_id": assessment.assessment_id,
                }
            ],
        )
    )


def clinical_determination(
    assessment: AssessmentCompleted,
    clinical: ClinicalDecision,
    tier: TierAssignment,
    span: CoverageSpan | None,
    action: Action,
    *,
    at: datetime,
) -> Determination:
    """Stage `clinical`: eligible when the criteria are met and the member is covered on the
    assessment date. The reasons list the pathway and every criterion's status, then what the
    assessment did (or why it did not enrol)."""
    reasons = clinical.reasons
    if span is None:
        reasons.append(NO_COVERAGE_ON_ASSESSMENT_DATE)
    if assessment.decision == "decline":
        reasons.append("member_declined")
    match action:
        case Enrol():
            reasons.append("enrolled")
        case ChangeTier(from_tier=f, to_tier=t):
            reasons.append(f"tier_changed:{f}->{t}")
        case Disenrol(reason=r):
            reasons.append(f"disenrolled:{r}")
        case NoChange(reason=r) if r not in reasons and r != "clinical_criteria_not_met":
            reasons.append(r)
    return Determination(
        determination_id=str(uuid.uuid4()),
        member_id=assessment.member_id,
        referral_id=assessment.referral_id,
        assessment_id=assessment.assessment_id,
        stage="clinical",
        eligible=clinical.eligible and span is not None,
        outcome=clinical.outcome.value,
        as_of=assessment.assessed_on,
        reasons=reasons,
        criteria_version=clinical.criteria_version,
        span=span,
        provider_org_id=(span.provider_org_id if span else None) or assessment.provider_org_id,
        explanation={
            **clinical.explanation(),
            "span_id": span.span_id if span else None,
            "tier": {"tier": tier.tier, **tier.explanation},
        },
        determined_at=at,
    )
