"""Referrals from EHRs as FHIR ServiceRequests, and the Task that reports back on each.

A ServiceRequest goes through the same set-based `receive_referrals` as `POST /referrals`, in the
same unit of work as the row that records it, so the linking rules hold (a member with an open
referral is linked to it, not referred twice) and nothing is half-written. A resend of an order
(the same first `identifier`) answers with the Task the first one created.
"""

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import ColumnElement, or_, true

from hearth_platform.auth import Principal
from hearth_platform.db import Database, TraceContext, UnitOfWork

from .access import serves
from .fhir import FhirReferral
from .fhir_task import TrackedReferral
from .intake import ReceiveReferral, receive_referrals
from .repository import ServiceRequestRepository
from .tables import service_requests


@dataclass(frozen=True)
class ReceiveServiceRequest:
    referral: FhirReferral
    trace: TraceContext | None = None
    # The organization whose client sent it: the Task is its closed loop.
    referrer_org_id: str | None = None


@dataclass(frozen=True)
class ServiceRequestIntake:
    service_request_id: str
    created: bool


async def receive_service_requests(
    uow: UnitOfWork, commands: Sequence[ReceiveServiceRequest]
) -> list[ServiceRequestIntake]:
    repo = ServiceRequestRepository(uow.conn)
    known = await repo.by_request_keys([c.referral.request_key for c in commands if c.referral.request_key])
    fresh: list[tuple[int, ReceiveServiceRequest]] = []
    answers: dict[int, ServiceRequestIntake] = {}
    for n, cmd in enumerate(commands):
        key = cmd.referral.request_key
        if key is not None and key in known:
            answers[n] = ServiceRequestIntake(known[key], created=False)
        else:
            fresh.append((n, cmd))
            if key is not None:
                # A second copy in the same batch is a resend of this one.
                known[key] = str(uuid.uuid4())
    intakes = await receive_referrals(uow, [_referral_command(cmd) for _, cmd in fresh])
    now = datetime.now(UTC)
    rows = []
    for (n, cmd), intake in zip(fresh, intakes, strict=True):
        key = cmd.referral.request_key
        service_request_id = known[key] if key is not None else str(uuid.uuid4())
        if any(row["service_request_id"] == service_request_id for row in rows):
            answers[n] = ServiceRequestIntake(service_request_id, created=False)
            continue
        rows.append(
            {
                "service_request_id": service_request_id,
                "task_id": str(uuid.uuid4()),
                "referral_id": intake.referral.referral_id,
                "referrer_id": cmd.referral.referrer_id,
                "request_key": key,
                "accepted_at": now,
                "referrer_org_id": cmd.referrer_org_id,
            }
        )
        answers[n] = ServiceRequestIntake(service_request_id, created=True)
    await repo.add_many(rows)
    return [answers[n] for n in range(len(commands))]


def _referral_command(cmd: ReceiveServiceRequest) -> ReceiveReferral:
    r = cmd.referral
    return ReceiveReferral(
        member_id=r.member_id,
        source="ehr",
        referrer_id=r.referrer_id,
        referral_date=r.referral_date,
        provider_org_id=r.provider_org_id,
        goals_of_care_discussed=r.goals_of_care_discussed,
        actor=r.referrer_id,
        trace=cmd.trace,
        referrer_org_id=cmd.referrer_org_id,
    )


def tasks_seen_by(caller: Principal) -> ColumnElement[bool]:
    """A Task is its sender's closed loop; the organization working the referral sees it too."""
    if caller.is_plan:
        return true()
    return or_(service_requests.c.referrer_org_id == caller.org, serves(caller))


async def tracked_by_task(db: Database, task_id: str, caller: Principal) -> TrackedReferral | None:
    async with db.unit_of_work() as uow:
        found = await ServiceRequestRepository(uow.conn).tracked(
            task_id=task_id, visible=tasks_seen_by(caller)
        )
    return found[0] if found else None


async def tracked_by_service_request(
    db: Database, service_request_id: str, caller: Principal
) -> list[TrackedReferral]:
    async with db.unit_of_work() as uow:
        return await ServiceRequestRepository(uow.conn).tracked(
            service_request_id=service_request_id, visible=tasks_seen_by(caller)
        )
