"""The referral aggregate and its state machine: plain Python, no I/O.

Every transition records who, when and why; a transition the machine does not allow raises
`IllegalTransition` with the reason, which the API answers as 409.
"""

import uuid
from dataclasses import dataclass, field
from datetime import date, datetime
from enum import StrEnum

from hearth_platform.errors import Conflict, Invalid, NotFound


class Status(StrEnum):
    RECEIVED = "received"
    TRIAGED = "triaged"
    OUTREACH = "outreach"
    ASSESSMENT_SCHEDULED = "assessment_scheduled"
    ASSESSED = "assessed"
    ENROLLED = "enrolled"
    DECLINED = "declined"
    INELIGIBLE = "ineligible"
    UNABLE_TO_REACH = "unable_to_reach"
    CLOSED = "closed"


# The endings the quarterback chooses; the others follow an assessment or an eligibility decision.
CLOSABLE_WITHOUT_ASSESSMENT = {Status.UNABLE_TO_REACH, Status.CLOSED}
OPEN = {Status.RECEIVED, Status.TRIAGED, Status.OUTREACH, Status.ASSESSMENT_SCHEDULED, Status.ASSESSED}
_ENDINGS = {Status.INELIGIBLE, Status.CLOSED}
ALLOWED: dict[Status, set[Status]] = {
    Status.RECEIVED: {Status.TRIAGED, Status.ASSESSED} | _ENDINGS,
    Status.TRIAGED: {Status.OUTREACH, Status.ASSESSMENT_SCHEDULED, Status.ASSESSED} | _ENDINGS,
    Status.OUTREACH: {Status.ASSESSMENT_SCHEDULED, Status.ASSESSED, Status.UNABLE_TO_REACH} | _ENDINGS,
    Status.ASSESSMENT_SCHEDULED: {Status.ASSESSED, Status.UNABLE_TO_REACH} | _ENDINGS,
    Status.ASSESSED: {Status.ENROLLED, Status.DECLINED} | _ENDINGS,
}


class ReferralNotFound(NotFound):
    def __init__(self, referral_id: str) -> None:
        super().__init__(f"referral {referral_id} does not exist")


class IllegalTransition(Conflict):
    def __init__(self, current: Status, target: Status) -> None:
        allowed = ", ".join(sorted(ALLOWED.get(current, set()))) or "none (the referral is closed)"
        super().__init__(
            f"a referral in status '{current}' cannot move to '{target}'; allowed next: {allowed}"
        )


def lacks_goals_of_care(goals_of_care_discussed: bool | None) -> bool:
    """Referred before anyone had a goals-of-care conversation (or nobody said): the quarterback
    is flagged and the referrer gets guidance."""
    return goals_of_care_discussed is not True


@dataclass(frozen=True)
class Transition:
    from_status: Status | None
    to_status: Status
    at: datetime
    actor: str
    reason: str


@dataclass
class Referral:
    referral_id: str
    member_id: str
    source: str
    referrer_id: str
    referral_date: date
    received_at: datetime
    provider_org_id: str | None
    goals_of_care_discussed: bool | None
    status: Status = Status.RECEIVED
    coordinator_id: str | None = None
    assessment_scheduled_for: date | None = None
    assessment_mode: str | None = None
    new_transitions: list[Transition] = field(default_factory=list)

    @classmethod
    def receive(
        cls,
        *,
        member_id: str,
        source: str,
        referrer_id: str,
        referral_date: date,
        received_at: datetime,
        provider_org_id: str | None,
        goals_of_care_discussed: bool | None,
        actor: str,
    ) -> "Referral":
        referral = cls(
            str(uuid.uuid4()),
            member_id,
            source,
            referrer_id,
            referral_date,
            received_at,
            provider_org_id,
            goals_of_care_discussed,
        )
        referral.new_transitions.append(
            Transition(None, Status.RECEIVED, received_at, actor, f"referred by {source}")
        )
        return referral

    @property
    def is_open(self) -> bool:
        return self.status in OPEN

    @property
    def needs_goals_of_care(self) -> bool:
        return lacks_goals_of_care(self.goals_of_care_discussed)

    def move(self, target: Status, *, at: datetime, actor: str, reason: str) -> None:
        if target not in ALLOWED.get(self.status, set()):
            raise IllegalTransition(self.status, target)
        self.new_transitions.append(Transition(self.status, target, at, actor, reason))
        self.status = target

    def triage(self, *, coordinator_id: str, provider_org_id: str | None, at: datetime, actor: str) -> None:
        """A coordinator (the quarterback) takes the referral; the organization may be set here."""
        self.move(Status.TRIAGED, at=at, actor=actor, reason=f"assigned to coordinator {coordinator_id}")
        self.coordinator_id = coordinator_id
        if provider_org_id is not None:
            self.provider_org_id = provider_org_id

    def start_outreach(self, *, at: datetime, actor: str) -> None:
        self.move(Status.OUTREACH, at=at, actor=actor, reason="outreach to the member started")

    def schedule_assessment(self, *, scheduled_for: date, mode: str, at: datetime, actor: str) -> None:
        """Book the initial assessment: never before the member was referred."""
        if scheduled_for < self.referral_date:
            raise Invalid(
                "an assessment cannot be scheduled before the referral date",
                detail=[{"field": "body.scheduled_for", "reason": "is before the referral date"}],
            )
        self.move(
            Status.ASSESSMENT_SCHEDULED,
            at=at,
            actor=actor,
            reason=f"assessment ({mode}) scheduled for {scheduled_for.isoformat()}",
        )
        self.assessment_scheduled_for = scheduled_for
        self.assessment_mode = mode

    def close(self, *, outcome: Status, reason_code: str, at: datetime, actor: str) -> None:
        """End the referral without an assessment: unable to reach the member, or closed."""
        if outcome not in CLOSABLE_WITHOUT_ASSESSMENT:
            raise Invalid(
                f"a referral cannot be closed as '{outcome}' here",
                detail=[{"field": "body.outcome", "reason": "must be unable_to_reach or closed"}],
            )
        self.move(outcome, at=at, actor=actor, reason=reason_code)
