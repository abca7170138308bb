"""Every event contract Hearth knows, by CloudEvents type."""

from .base import Event
from .billing import AdjustmentPosted, AssessmentFeeAccrued, DmeRequestDecided, InvoiceIssued, MonthClosed
from .claims import ClaimLineReceived
from .eligibility import EligibilityDetermined, MemberDisenrolled, MemberEnrolled, TierChanged
from .quality import PerformanceScored
from .referral import (
    AssessmentCompleted,
    AssessmentScheduled,
    ReferralClosed,
    ReferralReceived,
    ReferralTriaged,
)

ALL_EVENTS: tuple[type[Event], ...] = (
    ReferralReceived,
    ReferralTriaged,
    AssessmentScheduled,
    AssessmentCompleted,
    ReferralClosed,
    EligibilityDetermined,
    MemberEnrolled,
    TierChanged,
    MemberDisenrolled,
    AssessmentFeeAccrued,
    DmeRequestDecided,
    MonthClosed,
    InvoiceIssued,
    AdjustmentPosted,
    PerformanceScored,
    ClaimLineReceived,
)

EVENTS_BY_TYPE: dict[str, type[Event]] = {e.event_type(): e for e in ALL_EVENTS}


class UnknownEventType(LookupError):
    pass


def model_for(event_type: str) -> type[Event]:
    try:
        return EVENTS_BY_TYPE[event_type]
    except KeyError:
        raise UnknownEventType(event_type) from None
