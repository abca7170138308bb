"""HTTP routes of the referral service: validate, build a command, call the handler, map."""

from datetime import date
from typing import Annotated, Any, Literal

import orjson
from fastapi import APIRouter, Path, Request, Response, status
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, ConfigDict, Field, ValidationError, ValidationInfo, field_validator

from hearth_platform.app import DatabaseDep, Runtime
from hearth_platform.auth import CallerDep, caller_of
from hearth_platform.db import current_trace
from hearth_platform.errors import Invalid
from hearth_schemas.base import Identifier, MemberId

from . import handlers, intake, quarterback
from .access import require_own_org, require_sight, require_work, scoped_key

router = APIRouter(tags=["referrals"])
LIFECYCLE = quarterback.load_lifecycle_rules()
# Referral ids are UUIDs; anything else (a NUL byte included) is refused before it reaches SQL.
ReferralId = Annotated[str, Path(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9-]+$")]
# Ids from outside (referrers, organizations): Postgres text cannot hold a NUL, and an id has no
# control characters, so they are refused here as 422 rather than failing in SQL.
ExternalId = Annotated[Identifier, Field(pattern=r"^[^\x00-\x1f\x7f]+$")]
# Who moved a referral, and the coordinator and organization ids: printable ids, no free text.
StaffId = Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9._:@/-]+$")]


class ReferralIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    member_id: MemberId
    source: Literal["ehr", "aco", "care_manager"]
    referrer_id: ExternalId
    referral_date: date
    provider_org_id: ExternalId | None = None
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

    provider_org_id: ExternalId
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


def idempotency_key(request: Request) -> str | None:
    """The request's `Idempotency-Key`, checked (1 to 128 characters) or absent."""
    key = request.headers.get("idempotency-key")
    if key is not None and not 0 < len(key) <= 128:
        raise Invalid(
            "Idempotency-Key must be 1 to 128 characters",
            detail=[{"field": "header.Idempotency-Key", "reason": "must be 1 to 128 characters"}],
        )
    return key


def referral_body(raw: bytes) -> ReferralIn:
    """The body of `POST /referrals`, parsed and validated in one step by pydantic-core; errors
    are answered as FastAPI answers a body parameter's (422 naming `body.<field>`)."""
    try:
        return ReferralIn.model_validate_json(raw)
    except ValidationError as exc:
        errors = exc.errors(include_url=False, include_input=False)
        raise RequestValidationError([{**e, "loc": ("body", *e["loc"])} for e in errors]) from None


# The hottest route: it takes the request only (each FastAPI dependency and body parameter costs
# a solve per request), parses its body itself, reads the header from the request rather than as
# a Header parameter, and answers with orjson bytes instead of validating a response model on the
# way out; `openapi_extra` and `response_model` keep the OpenAPI document.
@router.post(
    "/referrals",
    status_code=status.HTTP_201_CREATED,
    response_model=ReferralOut,
    responses={200: {"model": ReferralOut, "description": "An existing referral (retry or open)."}},
    openapi_extra={
        "parameters": [IDEMPOTENCY_KEY],
        "requestBody": {
            "required": True,
            "content": {"application/json": {"schema": ReferralIn.model_json_schema()}},
        },
    },
)
async def post_referral(request: Request) -> Response:
    """Refer a member (any member: the referral records the caller's organization, which keeps
    seeing it). A retry with the same `Idempotency-Key` from the same organization, or a member
    with an open referral, answers 200 with the existing referral instead of creating another."""
    body = referral_body(await request.body())
    caller = caller_of(request)
    command = intake.ReceiveReferral(
        member_id=body.member_id,
        source=body.source,
        referrer_id=body.referrer_id,
        referral_date=body.referral_date,
        provider_org_id=body.provider_org_id,
        goals_of_care_discussed=body.goals_of_care_discussed,
        actor=body.referrer_id,
        idempotency_key=scoped_key(caller, idempotency_key(request)),
        trace=current_trace.get(),
        referrer_org_id=caller.org,
    )
    runtime: Runtime = request.app.state.runtime
    result = await runtime.coalescer(intake.receive_posted).submit(command)
    r = result.referral
    answer = {
        "referral_id": r.referral_id,
        "member_id": r.member_id,
        "status": r.status.value,
        "created": result.created,
        "needs_goals_of_care": r.needs_goals_of_care,
    }
    return Response(
        orjson.dumps(answer),
        status_code=status.HTTP_201_CREATED if result.created else status.HTTP_200_OK,
        media_type="application/json",
    )


@router.get("/referrals/{referral_id}")
async def get_referral(referral_id: ReferralId, db: DatabaseDep, caller: CallerDep) -> dict[str, object]:
    """A referral with its history, for the organizations that referred or work it."""
    await require_sight(db, caller, referral_id)
    return await handlers.referral_view(db, referral_id)


@router.post("/referrals/{referral_id}/assessment", status_code=status.HTTP_201_CREATED)
async def post_assessment(
    referral_id: ReferralId, body: AssessmentIn, db: DatabaseDep, caller: CallerDep
) -> dict[str, str]:
    """Record the initial assessment, by the organization serving the referral (billing pays the
    `provider_org_id` named, so a provider's client can name only itself)."""
    require_own_org(caller, body.provider_org_id, "body.provider_org_id")
    await require_work(db, caller, referral_id)
    assessment_id = await handlers.record_assessment(
        db, referral_id, body.model_dump(), actor=body.provider_org_id
    )
    return {"assessment_id": assessment_id, "referral_id": referral_id}


class TriageIn(BaseModel):
    """Who takes the referral: the coordinator (quarterback), and the organization if it changes."""

    model_config = ConfigDict(extra="forbid")

    actor: StaffId = Field(description="Who triaged the referral.")
    coordinator_id: StaffId
    provider_org_id: StaffId | None = None


class OutreachIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    actor: StaffId = Field(description="Who started reaching out to the member.")


class ScheduleIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    actor: StaffId = Field(description="Who booked the assessment.")
    scheduled_for: date
    mode: Literal["in_person", "video", "phone"]


class CloseIn(BaseModel):
    """Close without an assessment; `reason` is a code from lifecycle.toml for the outcome."""

    model_config = ConfigDict(extra="forbid")

    actor: StaffId = Field(description="Who closed the referral.")
    outcome: Literal["unable_to_reach", "closed"]
    reason: str = Field(
        max_length=64,
        description="; ".join(f"{k}: {', '.join(v)}" for k, v in LIFECYCLE.close_reasons.items()),
    )

    @field_validator("reason")
    @classmethod
    def _known_reason(cls, reason: str, info: ValidationInfo) -> str:
        outcome = info.data.get("outcome")
        if outcome is not None and reason not in LIFECYCLE.close_reasons.get(outcome, ()):
            raise ValueError(f"is not a reason code for {outcome} (lifecycle rules {LIFECYCLE.version})")
        return reason


_LIFECYCLE_RESPONSES: dict[int | str, dict[str, Any]] = {
    404: {"description": "No such referral."},
    409: {"description": "The referral's state does not allow this move; the message says why."},
}


@router.post("/referrals/{referral_id}/triage", responses=_LIFECYCLE_RESPONSES)
async def post_triage(
    referral_id: ReferralId, body: TriageIn, db: DatabaseDep, caller: CallerDep
) -> dict[str, Any]:
    """A coordinator takes a received referral (emits ReferralTriaged); a provider's client may
    hand it only to its own organization."""
    require_own_org(caller, body.provider_org_id, "body.provider_org_id")
    await require_work(db, caller, referral_id)
    return await quarterback.triage(
        db,
        referral_id,
        coordinator_id=body.coordinator_id,
        provider_org_id=body.provider_org_id,
        actor=body.actor,
    )


@router.post("/referrals/{referral_id}/outreach", responses=_LIFECYCLE_RESPONSES)
async def post_outreach(
    referral_id: ReferralId, body: OutreachIn, db: DatabaseDep, caller: CallerDep
) -> dict[str, Any]:
    """Outreach to the member starts on a triaged referral."""
    await require_work(db, caller, referral_id)
    return await quarterback.start_outreach(db, referral_id, actor=body.actor)


@router.post("/referrals/{referral_id}/schedule", responses=_LIFECYCLE_RESPONSES)
async def post_schedule(
    referral_id: ReferralId, body: ScheduleIn, db: DatabaseDep, caller: CallerDep
) -> dict[str, Any]:
    """Book the initial assessment (emits AssessmentScheduled)."""
    await require_work(db, caller, referral_id)
    return await quarterback.schedule_assessment(
        db, referral_id, scheduled_for=body.scheduled_for, mode=body.mode, actor=body.actor
    )


@router.post("/referrals/{referral_id}/close", responses=_LIFECYCLE_RESPONSES)
async def post_close(
    referral_id: ReferralId, body: CloseIn, db: DatabaseDep, caller: CallerDep
) -> dict[str, Any]:
    """End the referral without an assessment: unable to reach the member, or closed for a coded
    reason (emits ReferralClosed)."""
    await require_work(db, caller, referral_id)
    return await quarterback.close(
        db, referral_id, outcome=body.outcome, reason=body.reason, actor=body.actor
    )
