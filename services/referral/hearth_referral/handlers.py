"""Commands and consumed events of the referral service. Each opens a unit of work, loads, calls
the domain, saves, stages events in the outbox, and commits."""

import uuid
from datetime import UTC, date, datetime
from typing import Any

from hearth_platform.db import Database, TraceContext, UnitOfWork
from hearth_platform.handlers import HandlerRegistry, Received
from hearth_schemas import (
    AssessmentCompleted,
    ClaimLineReceived,
    EligibilityDetermined,
    MemberEnrolled,
    ReferralClosed,
)

from .claims_layout import CLAIM_CSV_COLUMNS, DIAGNOSIS_SEPARATOR
from .coordination import follow_attribution
from .domain import Referral, ReferralNotFound, Status
from .repository import ReferralRepository

handlers = HandlerRegistry()


async def record_assessment(db: Database, referral_id: str, findings: dict[str, Any], actor: str) -> str:
    """Record the initial assessment; AssessmentCompleted goes out whatever the member decided."""
    async with db.unit_of_work() as uow:
        repo = ReferralRepository(uow.conn)
        referral = await repo.get(referral_id, for_update=True)
        if referral is None:
            raise ReferralNotFound(referral_id)
        referral.move(
            Status.ASSESSED,
            at=datetime.now(UTC),
            actor=actor,
            reason=f"assessment ({findings['mode']}), member chose to {findings['decision']}",
        )
        if findings["decision"] == "decline":
            referral.move(Status.DECLINED, at=datetime.now(UTC), actor=actor, reason="member declined")
        assessment_id = str(uuid.uuid4())
        event = AssessmentCompleted(
            assessment_id=assessment_id, referral_id=referral_id, member_id=referral.member_id, **findings
        )
        await repo.add_assessment(
            assessment_id, referral, event.assessed_on, event.decision, event.to_json_dict()
        )
        await repo.save(referral)
        uow.publish(event, aggregatetype="referral")
        if referral.status is Status.DECLINED:
            publish_closed(uow, referral)
        await uow.commit()
        return assessment_id


async def referral_view(db: Database, referral_id: str) -> dict[str, Any]:
    async with db.unit_of_work() as uow:
        repo = ReferralRepository(uow.conn)
        referral = await repo.get(referral_id)
        if referral is None:
            raise ReferralNotFound(referral_id)
        return {
            "referral_id": referral.referral_id,
            "member_id": referral.member_id,
            "source": referral.source,
            "referrer_id": referral.referrer_id,
            "referral_date": referral.referral_date,
            "provider_org_id": referral.provider_org_id,
            "status": referral.status.value,
            "goals_of_care_discussed": referral.goals_of_care_discussed,
            "needs_goals_of_care": referral.needs_goals_of_care,
            "history": await repo.history(referral_id),
        }


def publish_closed(uow: UnitOfWork, referral: Referral, caused_by: Any = None) -> None:
    uow.publish(
        ReferralClosed(
            referral_id=referral.referral_id,
            member_id=referral.member_id,
            outcome=referral.status.value,
            closed_at=datetime.now(UTC),
        ),  # type: ignore[arg-type]
        caused_by=caused_by,
        aggregatetype="referral",
    )


#: Reasons of an eligible clinical decision that mean the member was already in the program, so no
#: MemberEnrolled follows: the assessed referral ends as enrolled (eligibility's reason strings).
ALREADY_ENROLLED_REASONS = ("already_enrolled", "assessment_predates_current_tier", "tier_changed:")


def _already_enrolled(decision: EligibilityDetermined) -> bool:
    return (
        decision.stage == "clinical"
        and decision.eligible
        and any(r.startswith(ALREADY_ENROLLED_REASONS) for r in decision.reasons)
    )


@handlers.on(EligibilityDetermined)
async def on_eligibility_determined(uow: UnitOfWork, items: list[Received[EligibilityDetermined]]) -> None:
    """An ineligible member's referral closes as ineligible: the referrer hears why. An assessed
    referral of a member who was already enrolled closes as enrolled (no MemberEnrolled will come).
    A decision that names the member's provider organization steers the quarterback's queue to it."""
    repo = ReferralRepository(uow.conn)
    await follow_attribution(
        uow.conn,
        [
            {
                "member_id": i.event.member_id,
                "provider_org_id": i.event.provider_org_id,
                "as_of": i.event.as_of,
                "referral_id": i.event.referral_id,
            }
            for i in items
            if i.event.eligible and i.event.provider_org_id is not None
        ],
    )
    for item in items:
        decision = item.event
        already_enrolled = _already_enrolled(decision)
        if (decision.eligible and not already_enrolled) or decision.referral_id is None:
            continue
        referral = await repo.get(decision.referral_id, for_update=True)
        if referral is None or not referral.is_open:
            continue
        if already_enrolled:
            if referral.status is not Status.ASSESSED:
                continue
            referral.move(
                Status.ENROLLED,
                at=datetime.now(UTC),
                actor="eligibility",
                reason="member already enrolled in the program",
            )
        else:
            referral.move(
                Status.INELIGIBLE,
                at=datetime.now(UTC),
                actor="eligibility",
                reason=f"{decision.stage}: {', '.join(decision.reasons) or 'not eligible'}",
            )
        await repo.save(referral)
        publish_closed(uow, referral, item.envelope)


@handlers.on(MemberEnrolled)
async def on_member_enrolled(uow: UnitOfWork, items: list[Received[MemberEnrolled]]) -> None:
    repo = ReferralRepository(uow.conn)
    for item in items:
        if item.event.referral_id is None:
            continue
        referral = await repo.get(item.event.referral_id, for_update=True)
        if referral is None or referral.status is not Status.ASSESSED:
            continue
        referral.move(
            Status.ENROLLED,
            at=datetime.now(UTC),
            actor="eligibility",
            reason=f"enrolled in tier {item.event.tier} from {item.event.effective_date}",
        )
        await repo.save(referral)
        publish_closed(uow, referral, item.envelope)


@handlers.on(ClaimLineReceived)
async def on_claim_lines(uow: UnitOfWork, items: list[Received[ClaimLineReceived]]) -> None:
    """A batch of the plan's claim feed: the same set-based path as a claims file, scored as of
    today for the members in the batch."""
    from .claims import RULES, find_cases
    from .claims_repository import ClaimsRepository

    repo = ClaimsRepository(uow.conn, RULES)
    await repo.create_staging()
    await repo.stage_events(
        [
            {
                **i.event.model_dump(mode="json", include=set(CLAIM_CSV_COLUMNS)),
                "diagnosis_codes": DIAGNOSIS_SEPARATOR.join(i.event.diagnosis_codes),
                "ed_visit": "true" if i.event.ed_visit else "false",
            }
            for i in items
        ]
    )
    await repo.keep_signals()
    await find_cases(uow, repo, date.today(), trace=TraceContext.caused_by(items[-1].envelope))
