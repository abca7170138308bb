"""Member attribution lists (Da Vinci ATR style FHIR `Group`): which provider organization each
member is attributed to over a period, recorded as coverage history. Plain Python, no I/O.

Attribution never overwrites. For each span in effect that shares days with an attribution
period and names another organization, the span is superseded by its part before the period
(or, when it starts inside the period, by the attributed part), and the remaining parts are added
as new spans: before the period the old organization, inside it the new one, after it the old
one again. So "what did we know at X" still answers from the spans recorded by X, and a
re-sent list changes nothing. Attribution needs coverage: a member with no span in effect on
any day of the period is a problem, since plan, line of business and market are unknown.
"""

import uuid
from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta

from fhir.resources.R4B.group import Group

from .coverage import CoverageHistory, CoverageSpan
from .fhir import FhirProblem, FhirProfile, Issue, full_date, member_of, organization_of

ONE_DAY = timedelta(days=1)


@dataclass(frozen=True)
class Attribution:
    entry: int
    member_id: str
    start: date
    end: date | None

    @property
    def expression(self) -> str:
        return f"Group.member[{self.entry}]"


@dataclass(frozen=True)
class AttributionList:
    provider_org_id: str
    members: tuple[Attribution, ...]

    @property
    def member_ids(self) -> set[str]:
        return {a.member_id for a in self.members}


def attribution_list(group: Group, profile: FhirProfile) -> AttributionList:
    """The organization and its members' periods, or every problem found in the Group."""
    issues: list[Issue] = []
    org = organization_of(group.managingEntity, "Group.managingEntity", profile, issues)
    members: list[Attribution] = []
    if not group.member:
        issues.append(Issue("Group.member", "an attribution list needs at least one member", "required"))
    for i, m in enumerate(group.member or []):
        where = f"Group.member[{i}]"
        if m.inactive:
            issues.append(
                Issue(
                    f"{where}.inactive", "inactive members are not supported: end the period", "not-supported"
                )
            )
        member_id = member_of(group, m.entity, f"{where}.entity", profile, issues)
        if m.period is None or m.period.start is None:
            issues.append(Issue(f"{where}.period.start", "the attribution period needs a start", "required"))
            continue
        start = full_date(m.period.start, f"{where}.period.start", issues)
        end = full_date(m.period.end, f"{where}.period.end", issues) if m.period.end else None
        if start is not None and end is not None and end < start:
            issues.append(Issue(f"{where}.period.end", "must be on or after the start"))
        elif member_id is not None and start is not None:
            members.append(Attribution(i, member_id, start, end))
    if issues or org is None:
        raise FhirProblem(issues)
    return AttributionList(org, tuple(members))


@dataclass(frozen=True)
class AttributionPlan:
    spans: list[CoverageSpan]
    # Entries whose coverage already named the organization over the whole period.
    unchanged: int


def _attribute(
    history: CoverageHistory, a: Attribution, org: str, at: datetime
) -> tuple[list[CoverageSpan], bool] | None:
    """The spans recording one attribution, and whether anything changed; None without coverage."""
    touched = history.overlapping(a.start, a.end)
    if not touched:
        return None
    new: list[CoverageSpan] = []
    for span in touched:
        if span.provider_org_id == org:
            continue
        inside_start = max(span.start_date, a.start)
        inside_end = (
            span.end_date
            if a.end is None
            else (a.end if span.end_date is None else min(span.end_date, a.end))
        )
        parts = []
        if span.start_date < a.start:
            parts.append(replace(span, end_date=a.start - ONE_DAY))
        parts.append(replace(span, start_date=inside_start, end_date=inside_end, provider_org_id=org))
        if a.end is not None and (span.end_date is None or a.end < span.end_date):
            parts.append(replace(span, start_date=a.end + ONE_DAY))
        for n, part in enumerate(parts):
            new.append(
                replace(
                    part,
                    span_id=str(uuid.uuid4()),
                    recorded_at=at,
                    supersedes_span_id=span.span_id if n == 0 else None,
                )
            )
    return new, bool(new)


def plan_attribution(
    attributions: AttributionList, histories: Mapping[str, CoverageHistory], *, at: datetime
) -> AttributionPlan:
    """The spans the whole list adds, entry by entry (a later entry sees the earlier ones)."""
    issues: list[Issue] = []
    spans: list[CoverageSpan] = []
    unchanged = 0
    current = dict(histories)
    for a in attributions.members:
        outcome = _attribute(current[a.member_id], a, attributions.provider_org_id, at)
        if outcome is None:
            issues.append(
                Issue(
                    a.expression,
                    "the member has no coverage on any day of the attribution period",
                    "business-rule",
                )
            )
            continue
        added, changed = outcome
        spans.extend(added)
        unchanged += not changed
        current[a.member_id] = CoverageHistory.of(a.member_id, [*current[a.member_id].spans, *added])
    if issues:
        raise FhirProblem(issues)
    return AttributionPlan(spans, unchanged)
