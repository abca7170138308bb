"""HTTP routes of the referral service: validate, build a command, call the handler, map."""

from datetime import date
from typing import Literal

from fastapi import APIRouter, Request, Response, status
from pydantic import BaseModel, ConfigDict, Field

from hearth_platform.app import DatabaseDep, RuntimeDep
from hearth_platform.db import current_trace
from hearth_platform.errors import Invalid
from hearth_schemas.base import Identifier, MemberId

from . import handlers

router = APIRouter(tags=["referrals"])


class ReferralIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    member_id: MemberId
    source: Literal["ehr", "aco", "care_manager"]
    referrer_id: Identifier
    referral_date: date
    provider_org_id: Identifier | None = None
    goals_of_care_discussed: bool | None = Field(
        default=None, description="Whether a goals-of-care conversation happened before referral."
    )


class ReferralOut(BaseModel):
    referral_id: str
    member_id: str
    status: str
    created: bool
    needs_goals_of_care: bool


class AssessmentIn(BaseModel):
    """Structured findings only: no names, no free-text notes."""

    model_config = ConfigDict(extra="forbid")

    provider_org_id: Identifier
    assessed_on: date
    mode: Literal["in_person", "video", "phone"]
    decision: Literal["enrol", "decline"]
    age_years: int | None = Field(default=None, ge=0, le=130)
    primary_condition: (
        Literal["chf", "copd", "cancer", "liver", "esrd", "dementia", "als", "parkinsons", "other"] | None
    ) = None
    karnofsky: int | None = Field(default=None, ge=0, le=100)
    pps: int | None = Field(default=None, ge=0, le=100)
    nyha_class: int | None = Field(default=None, ge=1, le=4)
    ejection_fraction: int | None = Field(default=None, ge=0, le=100)
    fev1_percent: int | None = Field(default=None, ge=0, le=150)
    oxygen_lpm: float | None = Field(default=None, ge=0, le=15)
    albumin: float | None = Field(default=None, ge=0, le=10)
    inr: float | None = Field(default=None, ge=0, le=20)
    meld: int | None = Field(default=None, ge=6, le=40)
    cancer_stage: int | None = Field(default=None, ge=0, le=4)
    failed_therapy_lines: int | None = Field(default=None, ge=0, le=20)
    esas_total: int | None = Field(default=None, ge=0, le=100)
    surrogate_identified: bool = False
    surrogate_relationship: Literal["spouse", "child", "parent", "sibling", "friend", "other"] | None = None
    goals_of_care_documented: bool = False
    advance_directive_on_file: bool = False
    hospice_eligible: bool | None = None
    hospice_elected: bool = False


IDEMPOTENCY_KEY = {
    "name": "Idempotency-Key",
    "in": "header",
    "required": False,
    "schema": {"type": "string", "maxLength": 128},
    "description": "A retry with the same key answers with the referral the first request created.",
}


# The header is read from the request rather than declared as a FastAPI Header parameter, which
# halves this endpoint's throughput; `openapi_extra` keeps it documented.
@router.post(
    "/referrals",
    status_code=status.HTTP_201_CREATED,
    response_model=ReferralOut,
    openapi_extra={"parameters": [IDEMPOTENCY_KEY]},
)
async def post_referral(
    body: ReferralIn, runtime: RuntimeDep, request: Request, response: Response
) -> ReferralOut:
    """Refer a member. A retry with the same `Idempotency-Key`, or a member with an open referral,
    answers 200 with the existing referral instead of creating another."""
    idempotency_key = request.headers.get("idempotency-key")
    if idempotency_key is not None and not 0 < len(idempotency_key) <= 128:
        raise Invalid(
            "Idempotency-Key must be 1 to 128 characters",
            detail=[{"field": "header.Idempotency-Key", "reason": "must be 1 to 128 characters"}],
        )
    command = handlers.ReceiveReferral(
        **body.model_dump(),
        actor=body.referrer_id,
        idempotency_key=idempotency_key,
        trace=current_trace.get(),
    )
    result = await runtime.coalescer(handlers.receive_referrals).submit(command)
    if not result.created:
        response.status_code = status.HTTP_200_OK
    r = result.referral
    return ReferralOut(
        referral_id=r.referral_id,
        member_id=r.member_id,
        status=r.status.value,
        created=result.created,
        needs_goals_of_care=r.needs_goals_of_care,
    )


@router.get("/referrals/{referral_id}")
async def get_referral(referral_id: str, db: DatabaseDep) -> dict[str, object]:
    return await handlers.referral_view(db, referral_id)


@router.post("/referrals/{referral_id}/assessment", status_code=status.HTTP_201_CREATED)
async def post_assessment(referral_id: str, body: AssessmentIn, db: DatabaseDep) -> dict[str, str]:
    assessment_id = await handlers.record_assessment(
        db, referral_id, body.model_dump(), actor=body.provider_org_id
    )
    return {"assessment_id": assessment_id, "referral_id": referral_id}
