"""HTTP routes of the eligibility service: validate, build a command, call the handler, map."""

from datetime import UTC, date, datetime
from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Path, Request, Response, status
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError

from hearth_platform.app import DatabaseDep
from hearth_platform.auth import CallerDep, caller_of
from hearth_platform.errors import HearthError, Invalid
from hearth_schemas.base import Identifier
from hearth_schemas.eligibility import DisenrolmentReason

from . import handlers, views
from .access import Audience, require_plan
from .coverage import LineOfBusiness
from .roster import COLUMNS, parse_csv, parse_ndjson

router = APIRouter(tags=["eligibility"])

MemberPath = Annotated[str, Path(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9._:-]+$")]


class CoverageIn(BaseModel):
    """A coverage span: the plan covering the member from `start_date` to `end_date` (inclusive;
    omit for open-ended). To correct or end a span, post its replacement with `supersedes_span_id`."""

    model_config = ConfigDict(extra="forbid")

    plan_id: Identifier
    line_of_business: LineOfBusiness
    market: Identifier = Field(description="Market or county, e.g. 'alameda'.")
    aco_id: Identifier | None = None
    provider_org_id: Identifier | None = Field(
        default=None, description="The palliative provider organization attributed to the member."
    )
    start_date: date
    end_date: date | None = None
    supersedes_span_id: Identifier | None = None


class CoverageOut(BaseModel):
    span_id: str
    member_id: str
    plan_id: str
    line_of_business: str
    market: str
    aco_id: str | None
    provider_org_id: str | None
    start_date: date
    end_date: date | None
    recorded_at: datetime
    supersedes_span_id: str | None


class DisenrolIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reason: DisenrolmentReason
    effective_date: date = Field(
        description="First day the member is no longer enrolled; may be in the past."
    )


class DisenrolOut(BaseModel):
    enrollment_id: str
    member_id: str
    provider_org_id: str
    reason: str
    effective_date: date


@router.post("/members/{member_id}/coverage", status_code=status.HTTP_201_CREATED, response_model=CoverageOut)
async def post_coverage(
    member_id: MemberPath, body: CoverageIn, db: DatabaseDep, caller: CallerDep
) -> dict[str, Any]:
    """Add a coverage span (the plan's operation). 409 names the span in effect that it overlaps."""
    require_plan(caller, "recording coverage")
    span = await handlers.add_coverage(db, handlers.AddCoverage(member_id=member_id, **body.model_dump()))
    return views.span_view(span)


class RosterLoadedOut(BaseModel):
    lines: int = Field(description="Data lines in the roster.")
    members: int
    added: int = Field(description="New coverage spans recorded.")
    unchanged: int = Field(description="Lines identical to a span already in effect.")


class UnsupportedRoster(HearthError):
    status_code = 415
    code = "unsupported_media_type"


_ROSTER_LINE = {
    "type": "object",
    "properties": {c: {"type": "string"} for c in COLUMNS},
    "required": ["member_id", "plan_id", "line_of_business", "market", "start_date"],
}
_ROSTER_BODY = {
    "requestBody": {
        "required": True,
        "description": "A CSV roster with the header line " + ",".join(COLUMNS) + " (optional columns "
        "may be left out), or NDJSON: one JSON object per line with the same fields. Dates are YYYY-MM-DD.",
        "content": {
            "text/csv": {"schema": {"type": "string"}},
            "application/x-ndjson": {"schema": _ROSTER_LINE},
        },
    }
}


@router.post(
    "/coverage/import",
    response_model=RosterLoadedOut,
    openapi_extra=_ROSTER_BODY,
    responses={422: {"description": "Every line's errors (line, field, reason); nothing was loaded."}},
)
async def post_coverage_import(request: Request, db: DatabaseDep, caller: CallerDep) -> handlers.RosterLoaded:
    """Load a coverage roster whole, in one transaction, or not at all (the plan's operation)."""
    require_plan(caller, "loading a coverage roster")
    media_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if media_type not in ("text/csv", "application/x-ndjson", "application/ndjson"):
        raise UnsupportedRoster("send the roster as text/csv or application/x-ndjson")
    try:
        body = (await request.body()).decode("utf-8-sig")
    except UnicodeDecodeError:
        raise Invalid(
            "the roster is not UTF-8 text", detail=[{"line": 1, "field": "(body)", "reason": "must be UTF-8"}]
        ) from None
    roster = parse_csv(body) if media_type == "text/csv" else parse_ndjson(body)
    return await handlers.import_roster(db, roster)


_MEMBER = TypeAdapter(MemberPath)
_ON = TypeAdapter(date)
_KNOWN_AT = TypeAdapter(datetime)
_COVERAGE_PARAMETERS = [
    {
        "name": "member_id",
        "in": "path",
        "required": True,
        "schema": _MEMBER.json_schema(),
    },
    {
        "name": "on",
        "in": "query",
        "required": False,
        "schema": _ON.json_schema(),
        "description": "The day asked about; today when omitted.",
    },
    {
        "name": "known_at",
        "in": "query",
        "required": False,
        "schema": _KNOWN_AT.json_schema(),
        "description": "Answer as the registry stood at this moment (bitemporal).",
    },
]


def _param(adapter: TypeAdapter[Any], loc: tuple[str, str], raw: str) -> Any:
    """`raw` validated as FastAPI validates a typed parameter (same rules, same 422)."""
    try:
        return adapter.validate_python(raw) if loc[0] == "path" else adapter.validate_strings(raw)
    except ValidationError as exc:
        errors = exc.errors(include_url=False, include_input=False)
        raise RequestValidationError([{**e, "loc": (*loc, *e["loc"])} for e in errors]) from None


# The hot read path: the route takes the request only (FastAPI solves no parameters; the path
# and query are validated here by the same pydantic types), the caller and the runtime come
# straight from the request, concurrent checks are coalesced into one query, and the row, already
# the documented shape, is serialized without re-validation. `openapi_extra` keeps the document.
@router.get(
    "/members/{member_id}/coverage",
    response_model=CoverageOut,
    openapi_extra={"parameters": _COVERAGE_PARAMETERS},
)
async def get_coverage(request: Request) -> Response:
    """The span in force on `on`; 404 when the member had no coverage that day, or is not one the
    caller's organization sees (see `access`)."""
    member_id: str = _param(_MEMBER, ("path", "member_id"), request.scope["path_params"]["member_id"])
    query = request.query_params
    raw_on, raw_known_at = query.get("on"), query.get("known_at")
    on: date = _param(_ON, ("query", "on"), raw_on) if raw_on is not None else datetime.now(UTC).date()
    known_at: datetime | None = None
    if raw_known_at is not None:
        known_at = _param(_KNOWN_AT, ("query", "known_at"), raw_known_at)
        if known_at.tzinfo is None:
            known_at = known_at.replace(tzinfo=UTC)
    question = views.CoverageQuestion(member_id, on, known_at, Audience.of(caller_of(request)))
    span = await views.coverage_on(request.app.state.runtime, question)
    return Response(orjson.dumps(span, option=orjson.OPT_UTC_Z), media_type="application/json")


@router.get("/members/{member_id}/coverage/history")
async def get_coverage_history(
    member_id: MemberPath, db: DatabaseDep, caller: CallerDep
) -> list[dict[str, Any]]:
    """Every span recorded for the member, superseded ones included."""
    return await views.coverage_history(db, member_id, Audience.of(caller))


@router.get("/members/{member_id}/determinations")
async def get_determinations(
    member_id: MemberPath, db: DatabaseDep, caller: CallerDep
) -> list[dict[str, Any]]:
    """Every decision about the member, oldest first, with its criteria version and explanation."""
    return await views.determinations(db, member_id, Audience.of(caller))


@router.get("/members/{member_id}/enrolment")
async def get_enrolment(member_id: MemberPath, db: DatabaseDep, caller: CallerDep) -> dict[str, Any]:
    """The current (or most recent) enrolment with its tier and history; 404 if never enrolled."""
    return await views.enrolment(db, member_id, Audience.of(caller))


@router.post("/members/{member_id}/disenrol", response_model=DisenrolOut)
async def post_disenrol(
    member_id: MemberPath, body: DisenrolIn, db: DatabaseDep, caller: CallerDep
) -> dict[str, Any]:
    """End the member's enrolment (409 if not enrolled); emits MemberDisenrolled. The plan or the
    enrolled provider organization may; for anyone else the member is not found."""
    by_org = None if caller.is_plan else caller.org
    e = await handlers.disenrol(db, member_id, body.reason, body.effective_date, by_org)
    return {
        "enrollment_id": e.enrollment_id,
        "member_id": e.member_id,
        "provider_org_id": e.provider_org_id,
        "reason": e.end_reason,
        "effective_date": e.ended_on,
    }
