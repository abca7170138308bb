"""The quarterback's moves along a referral: triage, outreach, scheduling the assessment, closing
without one. Each records who and why in the referral's history and stages its event in the same
unit of work; a move the state machine does not allow is refused (409) with the reason.
"""

import tomllib
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime
from importlib import resources
from typing import Any

from hearth_platform.db import Database, UnitOfWork
from hearth_schemas import AssessmentScheduled, ReferralTriaged

from .domain import Referral, ReferralNotFound, Status
from .handlers import publish_closed, referral_view
from .repository import ReferralRepository


@dataclass(frozen=True)
class LifecycleRules:
    """`lifecycle.toml`: the reason codes accepted for each way of closing without assessment."""

    version: str
    close_reasons: dict[str, tuple[str, ...]]


def load_lifecycle_rules() -> LifecycleRules:
    doc = tomllib.loads((resources.files(__package__) / "lifecycle.toml").read_text(encoding="utf-8"))
    return LifecycleRules(doc["version"], {k: tuple(v) for k, v in doc["close_reasons"].items()})


async def _change(
    db: Database,
    referral_id: str,
    move: Callable[[Referral, datetime], None],
    publish: Callable[[UnitOfWork, Referral, datetime], None],
) -> dict[str, Any]:
    async with db.unit_of_work() as uow:
        repo = ReferralRepository(uow.conn)
        referral = await repo.get(referral_id, for_update=True)
        if referral is None:
            raise ReferralNotFound(referral_id)
        now = datetime.now(UTC)
        move(referral, now)
        await repo.save(referral)
        publish(uow, referral, now)
        await uow.commit()
    return await referral_view(db, referral_id)


async def triage(
    db: Database, referral_id: str, *, coordinator_id: str, provider_org_id: str | None, actor: str
) -> dict[str, Any]:
    def move(r: Referral, now: datetime) -> None:
        r.triage(coordinator_id=coordinator_id, provider_org_id=provider_org_id, at=now, actor=actor)

    def publish(uow: UnitOfWork, r: Referral, now: datetime) -> None:
        uow.publish(
            ReferralTriaged(
                referral_id=r.referral_id,
                member_id=r.member_id,
                coordinator_id=coordinator_id,
                provider_org_id=r.provider_org_id,
                triaged_at=now,
            ),
            aggregatetype="referral",
        )

    return await _change(db, referral_id, move, publish)


async def start_outreach(db: Database, referral_id: str, *, actor: str) -> dict[str, Any]:
    """Outreach is internal work: no event, the history and the Task show it."""

    def move(r: Referral, now: datetime) -> None:
        r.start_outreach(at=now, actor=actor)

    return await _change(db, referral_id, move, lambda uow, r, now: None)


async def schedule_assessment(
    db: Database, referral_id: str, *, scheduled_for: date, mode: str, actor: str
) -> dict[str, Any]:
    def move(r: Referral, now: datetime) -> None:
        r.schedule_assessment(scheduled_for=scheduled_for, mode=mode, at=now, actor=actor)

    def publish(uow: UnitOfWork, r: Referral, now: datetime) -> None:
        uow.publish(
            AssessmentScheduled(
                referral_id=r.referral_id,
                member_id=r.member_id,
                scheduled_for=scheduled_for,
                mode=mode,  # type: ignore[arg-type]
            ),
            aggregatetype="referral",
        )

    return await _change(db, referral_id, move, publish)


async def close(db: Database, referral_id: str, *, outcome: str, reason: str, actor: str) -> dict[str, Any]:
    def move(r: Referral, now: datetime) -> None:
        r.close(outcome=Status(outcome), reason_code=reason, at=now, actor=actor)

    return await _change(db, referral_id, move, lambda uow, r, now: publish_closed(uow, r))
