"""All SQL of the referral service."""

from typing import Any

from sqlalchemy import insert, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from .domain import OPEN, Referral, Status
from .tables import assessments, referrals, transitions


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

    async def by_idempotency_key(self, key: str) -> Referral | None:
        row = (await self.conn.execute(select(referrals).where(referrals.c.idempotency_key == key))).first()
        return _referral(row) if row else None

    async def open_for_member(self, member_id: str) -> Referral | None:
        row = (
            await self.conn.execute(
                select(referrals)
                .where(referrals.c.member_id == member_id, referrals.c.status.in_([s.value for s in OPEN]))
                .order_by(referrals.c.received_at)
                .limit(1)
                .with_for_update()
            )
        ).first()
        return _referral(row) if row else None

    async def add(self, referral: Referral, idempotency_key: str | None) -> None:
        await self.conn.execute(
            insert(referrals).values(
                referral_id=referral.referral_id,
                member_id=referral.member_id,
                source=referral.source,
                referrer_id=referral.referrer_id,
                referral_date=referral.referral_date,
                received_at=referral.received_at,
                provider_org_id=referral.provider_org_id,
                goals_of_care_discussed=referral.goals_of_care_discussed,
                status=referral.status.value,
                idempotency_key=idempotency_key,
            )
        )
        await self._save_transitions(referral)

    async def save(self, referral: Referral) -> None:
        await self.conn.execute(
            update(referrals)
            .where(referrals.c.referral_id == referral.referral_id)
            .values(status=referral.status.value)
        )
        await self._save_transitions(referral)

    async def _save_transitions(self, referral: Referral) -> None:
        if referral.new_transitions:
            await self.conn.execute(
                insert(transitions),
                [
                    {
                        "referral_id": referral.referral_id,
                        "from_status": t.from_status,
                        "to_status": t.to_status,
                        "at": t.at,
                        "actor": t.actor,
                        "reason": t.reason,
                    }
                    for t in referral.new_transitions
                ],
            )
            referral.new_transitions.clear()

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
