"""Commands and consumed events of the eligibility service. Each opens (or is given) a unit of
work, loads, calls the domain, saves, stages events in the outbox, and commits.

The criteria and tier rules are read from the packaged TOML files once, at import: a malformed
rule file stops the service at start-up instead of failing decisions later.
"""

import logging
import uuid
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

from hearth_platform.db import Database, UnitOfWork
from hearth_platform.errors import Invalid
from hearth_platform.fhir import FhirProblem, Issue
from hearth_platform.handlers import HandlerRegistry, Received
from hearth_schemas import (
    AssessmentCompleted,
    EligibilityDetermined,
    MemberDisenrolled,
    MemberEnrolled,
    ReferralReceived,
    TierChanged,
)

from .access import EVERYONE, Audience
from .attribution import AttributionList, plan_attribution
from .clinical import load_clinical_criteria
from .coverage import CoverageHistory, CoverageSpan
from .domain import (
    ChangeTier,
    Determination,
    Disenrol,
    Enrol,
    Enrolment,
    NeverEnrolled,
    NotEnrolled,
    after_assessment,
    clinical_determination,
    coverage_determination,
)
from .repository import CoverageRepository, DeterminationRepository, EnrolmentRepository, ReferralRecords
from .roster import ParsedRoster, RosterRejected, plan_roster
from .tiers import load_tier_rules

log = logging.getLogger("hearth.eligibility")
handlers = HandlerRegistry()

CRITERIA = load_clinical_criteria()
TIERS = load_tier_rules()


class ReferralMemberMismatch(Invalid):
    def __init__(self, assessment_id: str, referral_id: str) -> None:
        super().__init__(
            f"assessment {assessment_id} names a different member than its referral {referral_id}"
        )


@dataclass(frozen=True)
class AddCoverage:
    member_id: str
    plan_id: str
    line_of_business: str
    market: str
    aco_id: str | None
    provider_org_id: str | None
    start_date: date
    end_date: date | None
    supersedes_span_id: str | None = None


async def add_coverage(db: Database, cmd: AddCoverage) -> CoverageSpan:
    """Record a coverage span; a span overlapping one in effect is refused unless it supersedes it."""
    async with db.unit_of_work() as uow:
        repo = CoverageRepository(uow.conn)
        await repo.lock_member(cmd.member_id)
        history = await repo.history(cmd.member_id)
        history.check_new(cmd.start_date, cmd.end_date, cmd.supersedes_span_id)
        span = CoverageSpan(
            span_id=str(uuid.uuid4()),
            member_id=cmd.member_id,
            plan_id=cmd.plan_id,
            line_of_business=cmd.line_of_business,
            market=cmd.market,
            aco_id=cmd.aco_id,
            provider_org_id=cmd.provider_org_id,
            start_date=cmd.start_date,
            end_date=cmd.end_date,
            recorded_at=datetime.now(UTC),
            supersedes_span_id=cmd.supersedes_span_id,
        )
        await repo.add(span)
        await end_enrolments_without_coverage(uow, {cmd.member_id: history}, [span])
        await uow.commit()
        return span


@dataclass(frozen=True)
class RosterLoaded:
    lines: int
    members: int
    added: int
    unchanged: int


async def import_roster(db: Database, roster: ParsedRoster) -> RosterLoaded:
    """Load a whole roster in one transaction, or nothing of it: every line's errors (its own
    fields, overlaps within the file and with spans in effect) are reported together."""
    async with db.unit_of_work() as uow:
        repo = CoverageRepository(uow.conn)
        members = {line.fields.member_id for line in roster.lines}
        await repo.lock_members(members)
        histories = await repo.histories(members)
        plan = plan_roster(roster.lines, histories, at=datetime.now(UTC))
        if roster.errors or plan.errors:
            raise RosterRejected([*roster.errors, *plan.errors], roster.count)
        added = await repo.add_many(plan.spans)
        await end_enrolments_without_coverage(uow, histories, plan.spans)
        await uow.commit()
    log.info("roster loaded", extra={"lines": roster.count, "added": added, "unchanged": plan.unchanged})
    return RosterLoaded(roster.count, len(members), added, plan.unchanged)


@dataclass(frozen=True)
class AttributionRecorded:
    provider_org_id: str
    members: int
    entries: int
    spans_added: int
    unchanged: int


def _not_your_members() -> FhirProblem:
    issue = Issue(
        "Group.member",
        "the list names members not attributed to your organization: only the plan attributes them",
        "forbidden",
    )
    return FhirProblem([issue], status=403)


async def record_attribution(
    db: Database, attributions: AttributionList, audience: Audience = EVERYONE
) -> AttributionRecorded:
    """Record a member attribution list as coverage history, whole or not at all. A provider or
    ACO (`audience` not the plan's, managingEntity checked by the caller) may restate only members
    already attributed to it, checked under the members' locks; it learns no more than that."""
    async with db.unit_of_work() as uow:
        repo = CoverageRepository(uow.conn)
        members = attributions.member_ids
        await repo.lock_members(members)
        if not audience.sees_all and await repo.attributed(members, audience) != members:
            raise _not_your_members()
        histories = await repo.histories(members)
        plan = plan_attribution(attributions, histories, at=datetime.now(UTC))
        added = await repo.add_many(plan.spans)
        await end_enrolments_without_coverage(uow, histories, plan.spans)
        await uow.commit()
    log.info("attribution recorded", extra={"entries": len(attributions.members), "spans": added})
    return AttributionRecorded(
        attributions.provider_org_id, len(members), len(attributions.members), added, plan.unchanged
    )


async def disenrol(
    db: Database, member_id: str, reason: str, effective_date: date, by_org: str | None = None
) -> Enrolment:
    """End a member's enrolment, possibly retroactively: downstream services adjust. `by_org`
    (None for the plan) must be the enrolled provider organization; any other is answered as if
    the member had never been enrolled."""
    async with db.unit_of_work() as uow:
        repo = EnrolmentRepository(uow.conn)
        enrolment = await repo.latest(member_id, for_update=True)
        if by_org is not None and (enrolment is None or enrolment.provider_org_id != by_org):
            raise NeverEnrolled(member_id)
        if enrolment is None or not enrolment.is_open:
            raise NotEnrolled(member_id)
        enrolment.disenrol(reason, effective_date)
        await repo.save_all([enrolment], datetime.now(UTC))
        _publish_disenrolled(uow, enrolment, None)
        await uow.commit()
        return enrolment


async def end_enrolments_without_coverage(
    uow: UnitOfWork, before: Mapping[str, CoverageHistory], spans: Sequence[CoverageSpan]
) -> int:
    """After coverage changed (an 834 termination or change, a roster line, a span posted): an
    open enrolment of a member whose coverage in effect no longer runs on ends, reason
    `coverage_lost`, on the first day without coverage (in the past when the news came late;
    billing and quality adjust closed months from the event). Same transaction as the change."""
    # Only a span that ends or replaces coverage can leave a member uncovered.
    changed = {s.member_id for s in spans if s.end_date is not None or s.supersedes_span_id is not None}
    if not changed:
        return 0
    added: dict[str, list[CoverageSpan]] = defaultdict(list)
    for span in spans:
        added[span.member_id].append(span)
    repo = EnrolmentRepository(uow.conn)
    ended: list[Enrolment] = []
    for enrolment in await repo.open_for(changed):
        old = before.get(enrolment.member_id)
        after = CoverageHistory.of(
            enrolment.member_id, [*(old.spans if old else ()), *added[enrolment.member_id]]
        )
        lost = after.lost_on(enrolment.effective_date)
        if lost is None:
            continue
        enrolment.disenrol("coverage_lost", max(lost, enrolment.effective_date))
        ended.append(enrolment)
        _publish_disenrolled(uow, enrolment, None)
    await repo.save_all(ended, datetime.now(UTC))
    if ended:
        log.info("enrolments ended: coverage lost", extra={"count": len(ended)})
    return len(ended)


def _publish_determination(uow: UnitOfWork, d: Determination, item: Received[Any]) -> None:
    uow.publish(
        EligibilityDetermined(
            determination_id=d.determination_id,
            member_id=d.member_id,
            referral_id=d.referral_id,
            stage=d.stage,  # type: ignore[arg-type]
            eligible=d.eligible,
            as_of=d.as_of,
            reasons=d.reasons,
            criteria_version=d.criteria_version,
            plan_id=d.span.plan_id if d.span else None,
            line_of_business=d.span.line_of_business if d.span else None,
            provider_org_id=d.provider_org_id,
        ),
        caused_by=item.envelope,
        aggregatetype="determination",
    )


def _publish_disenrolled(uow: UnitOfWork, e: Enrolment, item: Received[Any] | None) -> None:
    assert e.end_reason is not None and e.ended_on is not None
    uow.publish(
        MemberDisenrolled(
            enrollment_id=e.enrollment_id,
            member_id=e.member_id,
            provider_org_id=e.provider_org_id,
            reason=e.end_reason,  # type: ignore[arg-type]
            effective_date=e.ended_on,
        ),
        caused_by=item.envelope if item else None,
        aggregatetype="enrolment",
    )


@handlers.on(ReferralReceived)
async def on_referral_received(uow: UnitOfWork, items: list[Received[ReferralReceived]]) -> None:
    """Coverage on the referral date, decided once per referral however often it is delivered."""
    first: dict[str, Received[ReferralReceived]] = {}
    for item in items:
        first.setdefault(item.event.referral_id, item)
    histories = await CoverageRepository(uow.conn).histories({i.event.member_id for i in first.values()})
    now = datetime.now(UTC)
    decided = {
        rid: coverage_determination(
            referral_id=rid,
            member_id=i.event.member_id,
            referral_date=i.event.referral_date,
            span=histories[i.event.member_id].in_force(i.event.referral_date),
            at=now,
        )
        for rid, i in first.items()
    }
    inserted = await ReferralRecords(uow.conn).add_new(
        [
            {
                "referral_id": rid,
                "member_id": i.event.member_id,
                "referral_date": i.event.referral_date,
                "provider_org_id": i.event.provider_org_id,
                "received_at": i.event.received_at,
                "recorded_at": now,
                "covered": decided[rid].eligible,
                "span_id": decided[rid].span.span_id if decided[rid].span else None,
            }
            for rid, i in first.items()
        ]
    )
    new = [decided[rid] for rid in first if rid in inserted]
    await DeterminationRepository(uow.conn).add(new)
    for rid, item in first.items():
        if rid in inserted:
            _publish_determination(uow, decided[rid], item)
    log.info(
        "coverage determined",
        extra={
            "referrals": len(new),
            "covered": sum(d.eligible for d in new),
            "duplicates": len(items) - len(new),
        },
    )


@handlers.on(AssessmentCompleted)
async def on_assessment_completed(
    uow: UnitOfWork, items: list[Received[AssessmentCompleted]]
) -> list[Received[AssessmentCompleted]]:
    """Clinical criteria, tier and enrolment. An assessment whose referral has not arrived yet is
    handed back to the consumer, which parks it and retries when the member's next event comes."""
    referral_members = await ReferralRecords(uow.conn).members_of({i.event.referral_id for i in items})
    waiting = [i for i in items if i.event.referral_id not in referral_members]
    ready = [i for i in items if i.event.referral_id in referral_members]
    for item in ready:
        if referral_members[item.event.referral_id] != item.event.member_id:
            raise ReferralMemberMismatch(item.event.assessment_id, item.event.referral_id)
    if waiting:
        log.info("assessments waiting for their referral", extra={"count": len(waiting)})
    if not ready:
        return waiting
    determinations = DeterminationRepository(uow.conn)
    enrolments = EnrolmentRepository(uow.conn)
    decided = await determinations.decided_assessments({i.event.assessment_id for i in ready})
    members = {i.event.member_id for i in ready}
    histories = await CoverageRepository(uow.conn).histories(members)
    latest = await enrolments.latest_for(members, for_update=True)
    now = datetime.now(UTC)
    new_determinations: list[Determination] = []
    created: dict[str, Enrolment] = {}
    changed: dict[str, Enrolment] = {}
    for item in ready:
        a = item.event
        if a.assessment_id in decided:
            continue
        decided.add(a.assessment_id)
        facts = a.model_dump()
        clinical = CRITERIA.evaluate(facts)
        tier = TIERS.assign(facts)
        span = histories[a.member_id].in_force(a.assessed_on)
        action = after_assessment(a, clinical, tier, span, latest.get(a.member_id), at=now)
        determination = clinical_determination(a, clinical, tier, span, action, at=now)
        new_determinations.append(determination)
        _publish_determination(uow, determination, item)
        match action:
            case Enrol(enrolment=e):
                latest[a.member_id] = created[e.enrollment_id] = e
                _publish_enrolled(uow, e, item)
            case ChangeTier(enrolment=e, from_tier=before, to_tier=after, effective_date=on):
                changed[e.enrollment_id] = e
                uow.publish(
                    TierChanged(
                        enrollment_id=e.enrollment_id,
                        member_id=e.member_id,
                        provider_org_id=e.provider_org_id,
                        from_tier=before,
                        to_tier=after,
                        effective_date=on,
                    ),
                    caused_by=item.envelope,
                    aggregatetype="enrolment",
                )
            case Disenrol(enrolment=e):
                changed[e.enrollment_id] = e
                _publish_disenrolled(uow, e, item)
    await determinations.add(new_determinations)
    await enrolments.add_all(list(created.values()), now)
    await enrolments.save_all([e for eid, e in changed.items() if eid not in created], now)
    log.info(
        "clinical criteria applied",
        extra={
            "assessments": len(new_determinations),
            "enrolled": len(created),
            "criteria_version": CRITERIA.version,
        },
    )
    return waiting


def _publish_enrolled(uow: UnitOfWork, e: Enrolment, item: Received[AssessmentCompleted]) -> None:
    uow.publish(
        MemberEnrolled(
            enrollment_id=e.enrollment_id,
            member_id=e.member_id,
            provider_org_id=e.provider_org_id,
            tier=e.tier,
            effective_date=e.effective_date,
            consent_on=e.consent_on,
            line_of_business=e.line_of_business,
            market=e.market,
            referral_id=e.referral_id,
            assessment_id=e.assessment_id,
        ),
        caused_by=item.envelope,
        aggregatetype="enrolment",
    )
