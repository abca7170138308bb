"""Hearth's event contracts: versioned pydantic models, their JSON Schemas and AsyncAPI document."""

from .base import Event
from .billing import AdjustmentPosted, AssessmentFeeAccrued, DmeRequestDecided, InvoiceIssued, MonthClosed
from .claims import ClaimLineReceived
from .eligibility import EligibilityDetermined, MemberDisenrolled, MemberEnrolled, TierChanged
from .quality import PerformanceScored
from .referral import (
    AssessmentCompleted,
    AssessmentScheduled,
    ClaimEvidence,
    ReferralClosed,
    ReferralReceived,
    ReferralTriaged,
)
from .registry import ALL_EVENTS, EVENTS_BY_TYPE, UnknownEventType, model_for

__all__ = [
    "ALL_EVENTS",
    "EVENTS_BY_TYPE",
    "AdjustmentPosted",
    "AssessmentCompleted",
    "AssessmentFeeAccrued",
    "DmeRequestDecided",
    "AssessmentScheduled",
    "ClaimEvidence",
    "ClaimLineReceived",
    "EligibilityDetermined",
    "Event",
    "InvoiceIssued",
    "MemberDisenrolled",
    "MemberEnrolled",
    "MonthClosed",
    "PerformanceScored",
    "ReferralClosed",
    "ReferralReceived",
    "ReferralTriaged",
    "TierChanged",
    "UnknownEventType",
    "model_for",
]
