"""The quarterback's queue, as plain rules: who gets a new referral, and when one is overdue.

Assignment prefers a coordinator of the member's provider organization (the referral's, or the one
the member is attributed to), then the lightest open caseload; the targets and the holiday
calendar come from `worklist.toml`.
"""

import tomllib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from importlib import resources

from .domain import Status

NOT_YET_CONTACTED = {Status.RECEIVED, Status.TRIAGED}
NOT_YET_ASSESSED = {Status.RECEIVED, Status.TRIAGED, Status.OUTREACH, Status.ASSESSMENT_SCHEDULED}


@dataclass(frozen=True)
class WorklistRules:
    version: str
    first_contact_business_days: int
    assessment_days: int
    reassign_reasons: tuple[str, ...]
    holidays: frozenset[date]

    def is_business_day(self, day: date) -> bool:
        return day.weekday() < 5 and day not in self.holidays

    def add_business_days(self, start: date, days: int) -> date:
        """The `days`-th business day after `start` (start itself does not count)."""
        day = start
        while days > 0:
            day += timedelta(days=1)
            if self.is_business_day(day):
                days -= 1
        return day

    def business_days_between(self, start: date, end: date) -> int:
        """Business days after `start` up to and including `end` (0 when end <= start)."""
        return sum(self.is_business_day(start + timedelta(days=n)) for n in range(1, (end - start).days + 1))


def load_worklist_rules() -> WorklistRules:
    doc = tomllib.loads((resources.files(__package__) / "worklist.toml").read_text(encoding="utf-8"))
    targets = doc["targets"]
    return WorklistRules(
        version=str(doc["version"]),
        first_contact_business_days=int(targets["first_contact_business_days"]),
        assessment_days=int(targets["assessment_days"]),
        reassign_reasons=tuple(doc["reassign_reasons"]),
        holidays=frozenset(date.fromisoformat(d) for d in doc["calendar"]["holidays"]),
    )


@dataclass(frozen=True)
class WorkItem:
    """One referral on a coordinator's worklist, with its age and its deadlines as of a day."""

    referral_id: str
    member_id: str
    source: str
    status: Status
    referral_date: date
    needs_goals_of_care: bool
    age_days: int
    age_business_days: int
    first_contact_due: date
    first_contact_overdue: bool
    assessment_due: date
    assessment_overdue: bool


def work_item(
    rules: WorklistRules,
    *,
    referral_id: str,
    member_id: str,
    source: str,
    status: Status,
    referral_date: date,
    needs_goals_of_care: bool,
    as_of: date,
) -> WorkItem:
    contact_due = rules.add_business_days(referral_date, rules.first_contact_business_days)
    assessment_due = referral_date + timedelta(days=rules.assessment_days)
    return WorkItem(
        referral_id=referral_id,
        member_id=member_id,
        source=source,
        status=status,
        referral_date=referral_date,
        needs_goals_of_care=needs_goals_of_care,
        age_days=max((as_of - referral_date).days, 0),
        age_business_days=rules.business_days_between(referral_date, as_of),
        first_contact_due=contact_due,
        first_contact_overdue=status in NOT_YET_CONTACTED and as_of > contact_due,
        assessment_due=assessment_due,
        assessment_overdue=status in NOT_YET_ASSESSED and as_of > assessment_due,
    )


@dataclass
class Caseload:
    coordinator_id: str
    provider_org_id: str
    open_referrals: int


@dataclass(frozen=True)
class Assignment:
    coordinator_id: str
    reason: str


def assign(
    referrals: Sequence[tuple[str, str | None]], caseloads: Iterable[Caseload]
) -> dict[str, Assignment]:
    """Assign each (referral id, preferred organization) to the coordinator of that organization
    with the fewest open referrals (any organization when it has none), counting the ones this call
    hands out; ties go to the smaller coordinator id so the choice is reproducible."""
    pool = list(caseloads)
    if not pool:
        return {}
    chosen: dict[str, Assignment] = {}
    for referral_id, org in referrals:
        in_org = [c for c in pool if org is not None and c.provider_org_id == org]
        candidates = in_org or pool
        best = min(candidates, key=lambda c: (c.open_referrals, c.coordinator_id))
        if in_org:
            why = f"attributed organization {org}, lightest caseload ({best.open_referrals} open)"
        elif org is not None:
            why = f"no coordinator at {org}; lightest caseload overall ({best.open_referrals} open)"
        else:
            why = f"organization unknown; lightest caseload overall ({best.open_referrals} open)"
        best.open_referrals += 1
        chosen[referral_id] = Assignment(best.coordinator_id, why)
    return chosen
