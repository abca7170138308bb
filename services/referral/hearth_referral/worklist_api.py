"""The quarterback's queue over HTTP: coordinators, reassignment and the worklist."""

from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter, Query, Response, status
from pydantic import BaseModel, ConfigDict, Field, field_validator

from hearth_platform.app import DatabaseDep

from . import coordination
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


@router.post("/coordinators", status_code=status.HTTP_201_CREATED)
async def post_coordinator(body: CoordinatorIn, db: DatabaseDep, response: Response) -> dict[str, Any]:
    """Register a coordinator (201), or change their organization or activity (200)."""
    created = await coordination.register_coordinator(
        db, body.coordinator_id, body.provider_org_id, body.active
    )
    if not created:
        response.status_code = status.HTTP_200_OK
    return {**body.model_dump(), "created": created}


@router.get("/coordinators")
async def get_coordinators(db: DatabaseDep, provider_org_id: QueryStaffId = None) -> dict[str, Any]:
    """Coordinators with their open caseload."""
    return {"coordinators": await coordination.list_coordinators(db, provider_org_id)}


@router.post(
    "/referrals/{referral_id}/assignment",
    responses={404: {"description": "No such referral."}, 409: {"description": "The referral is closed."}},
)
async def post_assignment(referral_id: ReferralId, body: AssignmentIn, db: DatabaseDep) -> dict[str, Any]:
    """Hand an open referral to another coordinator; the answer lists every assignment so far."""
    return await coordination.reassign(
        db, referral_id, coordinator_id=body.coordinator_id, actor=body.actor, reason=body.reason
    )


@router.get("/worklist")
async def get_worklist(
    db: DatabaseDep,
    coordinator: QueryStaffId = None,
    provider_org_id: QueryStaffId = None,
    as_of: Annotated[date | None, Query(description="The day ages are counted to (default today).")] = None,
) -> dict[str, Any]:
    """Each coordinator's open referrals, overdue first, with their age (calendar and business
    days) and whether first contact or the assessment is overdue against the targets."""
    return await coordination.worklist(
        db, coordinator_id=coordinator, provider_org_id=provider_org_id, as_of=as_of or date.today()
    )
