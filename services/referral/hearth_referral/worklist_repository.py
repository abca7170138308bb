"""SQL of the quarterback's queue: coordinators, their open caseloads, assignments, attributions
and the worklist rows."""

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import func, insert, select, text, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncConnection

from .domain import OPEN
from .tables import assignments, caseload_changes, coordinators, member_attributions, referrals
from .worklist import Caseload

_OPEN = [s.value for s in OPEN]


class QueueRepository:
    def __init__(self, conn: AsyncConnection) -> None:
        self.conn = conn

    async def upsert_coordinator(self, coordinator_id: str, provider_org_id: str, active: bool) -> bool:
        """True when the coordinator is new."""
        row = (
            await self.conn.execute(
                pg_insert(coordinators)
                .values(coordinator_id=coordinator_id, provider_org_id=provider_org_id, active=active)
                .on_conflict_do_update(
                    index_elements=[coordinators.c.coordinator_id],
                    set_={"provider_org_id": provider_org_id, "active": active},
                )
                .returning(text("xmax = 0 AS created"))
            )
        ).one()
        return bool(row.created)

    async def caseloads(
        self, *, provider_org_id: str | None = None, active_only: bool = True
    ) -> list[Caseload]:
        """Each coordinator's open referrals right now, as the database keeps them
        (`caseload_changes`). Locks nothing: a concurrent batch may pick the same coordinator,
        which only makes the balance approximate."""
        open_count = (
            select(func.coalesce(func.sum(caseload_changes.c.change), 0))
            .where(caseload_changes.c.coordinator_id == coordinators.c.coordinator_id)
            .scalar_subquery()
        )
        query = select(coordinators.c.coordinator_id, coordinators.c.provider_org_id, open_count.label("n"))
        if active_only:
            query = query.where(coordinators.c.active)
        if provider_org_id is not None:
            query = query.where(coordinators.c.provider_org_id == provider_org_id)
        rows = await self.conn.execute(query.order_by(coordinators.c.coordinator_id))
        return [Caseload(r.coordinator_id, r.provider_org_id, r.n) for r in rows]

    async def coordinator(self, coordinator_id: str) -> Any:
        return (
            await self.conn.execute(
                select(coordinators).where(coordinators.c.coordinator_id == coordinator_id)
            )
        ).first()

    async def attribute(self, rows: Sequence[dict[str, Any]]) -> None:
        """Remember the organization each member is attributed to; a newer decision wins (also
        within one batch: Postgres refuses to upsert one row twice in a statement)."""
        latest: dict[str, dict[str, Any]] = {}
        for row in rows:
            if row["member_id"] not in latest or latest[row["member_id"]]["as_of"] <= row["as_of"]:
                latest[row["member_id"]] = row
        if not latest:
            return
        stmt = pg_insert(member_attributions).values(list(latest.values()))
        await self.conn.execute(
            stmt.on_conflict_do_update(
                index_elements=[member_attributions.c.member_id],
                set_={"provider_org_id": stmt.excluded.provider_org_id, "as_of": stmt.excluded.as_of},
                where=member_attributions.c.as_of <= stmt.excluded.as_of,
            )
        )

    async def reassign(
        self, referral_id: str, coordinator_id: str, *, at: datetime, actor: str, reason: str
    ) -> None:
        await self.conn.execute(
            update(referrals)
            .where(referrals.c.referral_id == referral_id)
            .values(coordinator_id=coordinator_id)
        )
        await self.conn.execute(
            insert(assignments).values(
                referral_id=referral_id, coordinator_id=coordinator_id, at=at, actor=actor, reason=reason
            )
        )

    async def assignment_history(self, referral_id: str) -> list[dict[str, Any]]:
        rows = await self.conn.execute(
            select(assignments).where(assignments.c.referral_id == referral_id).order_by(assignments.c.id)
        )
        return [
            {"coordinator_id": r.coordinator_id, "at": r.at, "actor": r.actor, "reason": r.reason}
            for r in rows
        ]

    async def open_referrals(self, *, coordinator_id: str | None, provider_org_id: str | None) -> list[Any]:
        query = (
            select(
                referrals.c.referral_id,
                referrals.c.member_id,
                referrals.c.source,
                referrals.c.status,
                referrals.c.referral_date,
                referrals.c.goals_of_care_discussed,
                referrals.c.coordinator_id,
                coordinators.c.provider_org_id.label("coordinator_org"),
            )
            .join(coordinators, coordinators.c.coordinator_id == referrals.c.coordinator_id)
            .where(referrals.c.status.in_(_OPEN))
        )
        if coordinator_id is not None:
            query = query.where(referrals.c.coordinator_id == coordinator_id)
        if provider_org_id is not None:
            query = query.where(coordinators.c.provider_org_id == provider_org_id)
        return list(
            await self.conn.execute(query.order_by(referrals.c.referral_date, referrals.c.referral_id))
        )
