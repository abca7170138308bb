"""The quarterback's queue over HTTP: coordinators, reassignment and the worklist."""

from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter, Query, Response, status
from pydantic import BaseModel, ConfigDict, Field, field_validator

from hearth_platform.app import DatabaseDep
from hearth_platform.auth import CallerDep, Forbidden, Principal

from . import coordination
from .access import require_own_org, require_work
from .api import ReferralId, StaffId

router = APIRouter(tags=["quarterback"])
QueryStaffId = Annotated[str | None, Query(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9._:@/-]+$")]


class CoordinatorIn(BaseModel):
    """A care coordinator (the quarterback) and the provider organization they work for."""

    model_config = ConfigDict(extra="forbid")

    coordinator_id: StaffId
    provider_org_id: StaffId
    active: bool = Field(default=True, description="Inactive coordinators get no new referrals.")


class AssignmentIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    actor: StaffId = Field(description="Who reassigned the referral.")
    coordinator_id: StaffId
    reason: str = Field(max_length=64, description=", ".join(coordination.RULES.reassign_reasons))

    @field_validator("reason")
    @classmethod
    def _known_reason(cls, reason: str) -> str:
        if reason not in coordination.RULES.reassign_reasons:
            raise ValueError(f"is not a reassignment reason (worklist rules {coordination.RULES.version})")
        return reason


def own_org_filter(caller: Principal, provider_org_id: str | None) -> str | None:
    """Coordinators work for provider organizations: a provider's or ACO's client reads only its
    own organization's coordinators and queue (naming another is refused); the plan reads any."""
    if caller.is_plan:
        return provider_org_id
    require_own_org(caller, provider_org_id, "query.provider_org_id")
    return caller.org


@router.post("/coordinators", status_code=status.HTTP_201_CREATED)
async def post_coordinator(
    body: CoordinatorIn, db: DatabaseDep, response: Response, caller: CallerDep
) -> dict[str, Any]:
    """Register a coordinator (201), or change their organization or activity (200). A provider's
    client registers only its own coordinators and cannot take over another organization's."""
    require_own_org(caller, body.provider_org_id, "body.provider_org_id")
    current = await coordination.coordinator_org(db, body.coordinator_id)
    if current is not None and not caller.sees_org(current):
        raise Forbidden("the coordinator works for another organization")
    created = await coordination.register_coordinator(
        db, body.coordinator_id, body.provider_org_id, body.active
    )
    if not created:
        response.status_code = status.HTTP_200_OK
    return {**body.model_dump(), "created": created}


@router.get("/coordinators")
async def get_coordinators(
    db: DatabaseDep, caller: CallerDep, provider_org_id: QueryStaffId = None
) -> dict[str, Any]:
    """Coordinators with their open caseload (the caller's organization's, unless the plan asks)."""
    return {"coordinators": await coordination.list_coordinators(db, own_org_filter(caller, provider_org_id))}


@router.post(
    "/referrals/{referral_id}/assignment",
    responses={404: {"description": "No such referral."}, 409: {"description": "The referral is closed."}},
)
async def post_assignment(
    referral_id: ReferralId, body: AssignmentIn, db: DatabaseDep, caller: CallerDep
) -> dict[str, Any]:
    """Hand an open referral to another coordinator; the answer lists every assignment so far. The
    organization serving the referral hands it only among its own coordinators."""
    await require_work(db, caller, referral_id)
    if not caller.is_plan:
        current = await coordination.coordinator_org(db, body.coordinator_id)
        if current is not None and current != caller.org:
            raise Forbidden("the coordinator works for another organization")
    return await coordination.reassign(
        db, referral_id, coordinator_id=body.coordinator_id, actor=body.actor, reason=body.reason
    )


@router.get("/worklist")
async def get_worklist(
    db: DatabaseDep,
    caller: CallerDep,
    coordinator: QueryStaffId = None,
    provider_org_id: QueryStaffId = None,
    as_of: Annotated[date | None, Query(description="The day ages are counted to (default today).")] = None,
) -> dict[str, Any]:
    """Each coordinator's open referrals, overdue first, with their age (calendar and business
    days) and whether first contact or the assessment is overdue against the targets; a
    provider's client sees its own organization's coordinators only."""
    return await coordination.worklist(
        db,
        coordinator_id=coordinator,
        provider_org_id=own_org_filter(caller, provider_org_id),
        as_of=as_of or date.today(),
    )
