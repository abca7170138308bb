"""The quarterback's queue as commands and views: coordinators, automatic assignment of new
referrals, reassignment, and each coordinator's worklist with ages and overdue flags."""

from collections.abc import Sequence
from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection

from hearth_platform.db import Database
from hearth_platform.errors import Conflict, Invalid

from .domain import ReferralNotFound, Status, lacks_goals_of_care
from .repository import ReferralRepository
from .worklist import WorklistRules, assign, load_worklist_rules, work_item
from .worklist_repository import QueueRepository

RULES = load_worklist_rules()
SYSTEM_ACTOR = "hearth-referral"


async def follow_attribution(conn: AsyncConnection, decisions: Sequence[dict[str, Any]]) -> None:
    """Eligibility told us the member's organization: remember it, and move a referral nobody has
    triaged yet to a coordinator of that organization if its coordinator works elsewhere."""
    queue = QueueRepository(conn)
    await queue.attribute(
        [
            {"member_id": d["member_id"], "provider_org_id": d["provider_org_id"], "as_of": d["as_of"]}
            for d in decisions
        ]
    )
    repo = ReferralRepository(conn)
    for decision in decisions:
        if decision["referral_id"] is None:
            continue
        referral = await repo.get(decision["referral_id"], for_update=True)
        if referral is None or referral.status is not Status.RECEIVED or referral.provider_org_id is not None:
            continue
        in_org = await queue.caseloads(provider_org_id=decision["provider_org_id"])
        if not in_org or referral.coordinator_id in {c.coordinator_id for c in in_org}:
            continue
        chosen = assign([(referral.referral_id, decision["provider_org_id"])], in_org)[referral.referral_id]
        await queue.reassign(
            referral.referral_id,
            chosen.coordinator_id,
            at=datetime.now(UTC),
            actor="eligibility",
            reason=chosen.reason,
        )


async def register_coordinator(db: Database, coordinator_id: str, provider_org_id: str, active: bool) -> bool:
    async with db.unit_of_work() as uow:
        created = await QueueRepository(uow.conn).upsert_coordinator(coordinator_id, provider_org_id, active)
        await uow.commit()
    return created


async def coordinator_org(db: Database, coordinator_id: str) -> str | None:
    """The organization a registered coordinator works for (none when not registered)."""
    async with db.unit_of_work() as uow:
        row = await QueueRepository(uow.conn).coordinator(coordinator_id)
    return None if row is None else str(row.provider_org_id)


async def list_coordinators(db: Database, provider_org_id: str | None) -> list[dict[str, Any]]:
    async with db.unit_of_work() as uow:
        loads = await QueueRepository(uow.conn).caseloads(provider_org_id=provider_org_id, active_only=False)
    return [
        {
            "coordinator_id": c.coordinator_id,
            "provider_org_id": c.provider_org_id,
            "open_referrals": c.open_referrals,
        }
        for c in loads
    ]


async def reassign(
    db: Database, referral_id: str, *, coordinator_id: str, actor: str, reason: str
) -> dict[str, Any]:
    """Hand an open referral to another active coordinator; the assignment history keeps who and why."""
    async with db.unit_of_work() as uow:
        referral = await ReferralRepository(uow.conn).get(referral_id, for_update=True)
        if referral is None:
            raise ReferralNotFound(referral_id)
        if not referral.is_open:
            raise Conflict(f"a referral in status '{referral.status}' is closed and cannot be reassigned")
        queue = QueueRepository(uow.conn)
        coordinator = await queue.coordinator(coordinator_id)
        if coordinator is None or not coordinator.active:
            raise Invalid(
                f"coordinator {coordinator_id} is not an active coordinator",
                detail=[{"field": "body.coordinator_id", "reason": "is not a registered active coordinator"}],
            )
        await queue.reassign(referral_id, coordinator_id, at=datetime.now(UTC), actor=actor, reason=reason)
        history = await queue.assignment_history(referral_id)
        await uow.commit()
    return {"referral_id": referral_id, "coordinator_id": coordinator_id, "assignments": history}


async def worklist(
    db: Database,
    *,
    coordinator_id: str | None,
    provider_org_id: str | None,
    as_of: date,
    rules: WorklistRules = RULES,
) -> dict[str, Any]:
    async with db.unit_of_work() as uow:
        rows = await QueueRepository(uow.conn).open_referrals(
            coordinator_id=coordinator_id, provider_org_id=provider_org_id
        )
    by_coordinator: dict[str, dict[str, Any]] = {}
    for row in rows:
        item = work_item(
            rules,
            referral_id=row.referral_id,
            member_id=row.member_id,
            source=row.source,
            status=Status(row.status),
            referral_date=row.referral_date,
            needs_goals_of_care=lacks_goals_of_care(row.goals_of_care_discussed),
            as_of=as_of,
        )
        entry = by_coordinator.setdefault(
            row.coordinator_id,
            {"coordinator_id": row.coordinator_id, "provider_org_id": row.coordinator_org, "referrals": []},
        )
        entry["referrals"].append(item.__dict__)
    for entry in by_coordinator.values():
        items = entry["referrals"]
        items.sort(
            key=lambda i: (not (i["first_contact_overdue"] or i["assessment_overdue"]), i["referral_date"])
        )
        entry["open"] = len(items)
        entry["first_contact_overdue"] = sum(i["first_contact_overdue"] for i in items)
        entry["assessment_overdue"] = sum(i["assessment_overdue"] for i in items)
    return {
        "as_of": as_of,
        "targets": {
            "version": rules.version,
            "first_contact_business_days": rules.first_contact_business_days,
            "assessment_days": rules.assessment_days,
        },
        "coordinators": sorted(by_coordinator.values(), key=lambda e: e["coordinator_id"]),
    }
