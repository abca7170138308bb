"""All SQL of the referral service."""

from collections.abc import Sequence
from typing import Any

from sqlalchemy import ColumnElement, func, insert, select, true, update
from sqlalchemy.ext.asyncio import AsyncConnection

from .domain import Referral, Status, lacks_goals_of_care
from .fhir_task import TrackedReferral
from .tables import assessments, referrals, service_requests, transitions


def _referral(row: Any) -> Referral:
    return Referral(
        referral_id=row.referral_id,
        member_id=row.member_id,
        source=row.source,
        referrer_id=row.referrer_id,
        referral_date=row.referral_date,
        received_at=row.received_at,
        provider_org_id=row.provider_org_id,
        goals_of_care_discussed=row.goals_of_care_discussed,
        status=Status(row.status),
        coordinator_id=row.coordinator_id,
        assessment_scheduled_for=row.assessment_scheduled_for,
        assessment_mode=row.assessment_mode,
    )


class ReferralRepository:
    def __init__(self, conn: AsyncConnection) -> None:
        self.conn = conn

    async def get(self, referral_id: str, *, for_update: bool = False) -> Referral | None:
        query = select(referrals).where(referrals.c.referral_id == referral_id)
        if for_update:
            query = query.with_for_update()
        row = (await self.conn.execute(query)).first()
        return _referral(row) if row else None

    async def save(self, referral: Referral) -> None:
        await self.conn.execute(
            update(referrals)
            .where(referrals.c.referral_id == referral.referral_id)
            .values(
                status=referral.status.value,
                provider_org_id=referral.provider_org_id,
                coordinator_id=referral.coordinator_id,
                assessment_scheduled_for=referral.assessment_scheduled_for,
                assessment_mode=referral.assessment_mode,
            )
        )
        await self._save_transitions([referral])

    async def _save_transitions(self, changed: Sequence[Referral]) -> None:
        rows = [
            {
                "referral_id": r.referral_id,
                "from_status": t.from_status,
                "to_status": t.to_status,
                "at": t.at,
                "actor": t.actor,
                "reason": t.reason,
            }
            for r in changed
            for t in r.new_transitions
        ]
        if rows:
            await self.conn.execute(insert(transitions), rows)
        for r in changed:
            r.new_transitions.clear()

    async def add_assessment(
        self,
        assessment_id: str,
        referral: Referral,
        assessed_on: Any,
        decision: str,
        findings: dict[str, Any],
    ) -> None:
        await self.conn.execute(
            insert(assessments).values(
                assessment_id=assessment_id,
                referral_id=referral.referral_id,
                member_id=referral.member_id,
                assessed_on=assessed_on,
                decision=decision,
                findings=findings,
            )
        )

    async def history(self, referral_id: str) -> list[dict[str, Any]]:
        rows = await self.conn.execute(
            select(transitions).where(transitions.c.referral_id == referral_id).order_by(transitions.c.id)
        )
        return [
            {"from": r.from_status, "to": r.to_status, "at": r.at, "actor": r.actor, "reason": r.reason}
            for r in rows
        ]


class ServiceRequestRepository:
    """The FHIR ServiceRequests Hearth accepted and the referrals they became."""

    def __init__(self, conn: AsyncConnection) -> None:
        self.conn = conn

    async def by_request_keys(self, keys: Sequence[str]) -> dict[str, str]:
        """Service request id of each retry key already accepted."""
        if not keys:
            return {}
        rows = await self.conn.execute(
            select(service_requests.c.request_key, service_requests.c.service_request_id).where(
                service_requests.c.request_key.in_(list(keys))
            )
        )
        return {row.request_key: row.service_request_id for row in rows}

    async def add_many(self, rows: Sequence[dict[str, Any]]) -> None:
        if rows:
            await self.conn.execute(insert(service_requests), list(rows))

    async def tracked(
        self,
        *,
        task_id: str | None = None,
        service_request_id: str | None = None,
        visible: ColumnElement[bool] | None = None,
    ) -> list[TrackedReferral]:
        """The Tasks asked for, among those `visible` (a condition on the service request and its
        referral; all by default)."""
        last_transition = (
            select(func.max(transitions.c.at))
            .where(transitions.c.referral_id == referrals.c.referral_id)
            .scalar_subquery()
        )
        query = select(
            service_requests,
            referrals.c.member_id,
            referrals.c.provider_org_id,
            referrals.c.status,
            referrals.c.goals_of_care_discussed,
            func.greatest(service_requests.c.accepted_at, last_transition).label("last_modified"),
        ).join(referrals, referrals.c.referral_id == service_requests.c.referral_id)
        query = query.where(visible if visible is not None else true())
        if task_id is not None:
            query = query.where(service_requests.c.task_id == task_id)
        if service_request_id is not None:
            query = query.where(service_requests.c.service_request_id == service_request_id)
        rows = await self.conn.execute(query.order_by(service_requests.c.accepted_at))
        return [
            TrackedReferral(
                task_id=row.task_id,
                service_request_id=row.service_request_id,
                referral_id=row.referral_id,
                member_id=row.member_id,
                referrer_id=row.referrer_id,
                provider_org_id=row.provider_org_id,
                status=Status(row.status),
                accepted_at=row.accepted_at,
                last_modified=row.last_modified,
                needs_goals_of_care=lacks_goals_of_care(row.goals_of_care_discussed),
            )
            for row in rows
        ]
