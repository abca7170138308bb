"""FHIR R4 routes of the eligibility service: parse, ask the registry or record, answer FHIR.

Problems are answered with an `OperationOutcome` (400 for a body that is not JSON, 422 for an
invalid or unsupported resource), never with Hearth's own error body: FHIR clients read the
former.
"""

from datetime import UTC, datetime
from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse
from fhir.resources.R4B.coverageeligibilityrequest import CoverageEligibilityRequest
from fhir.resources.R4B.group import Group

from hearth_platform.app import DatabaseDep
from hearth_platform.auth import SCOPE_OVERRIDE, CallerDep
from hearth_platform.fhir import Issue

from . import handlers, views
from .access import Audience
from .attribution import attribution_list
from .eligibility_check import eligibility_question, eligibility_response
from .fhir import FhirProblem, load_fhir_profile, parse_resource

router = APIRouter(prefix="/fhir", tags=["fhir"])

FHIR_JSON = "application/fhir+json"
PROFILE = load_fhir_profile()


def _body(description: str) -> dict[str, Any]:
    schema = {
        "type": "object",
        "required": ["resourceType"],
        "properties": {"resourceType": {"type": "string"}},
    }
    return {
        "requestBody": {
            "required": True,
            "description": description,
            "content": {FHIR_JSON: {"schema": schema}, "application/json": {"schema": schema}},
        }
    }


_OUTCOME = {"description": "An OperationOutcome naming each problem.", "content": {FHIR_JSON: {}}}
_PROBLEMS: dict[int | str, dict[str, Any]] = {400: _OUTCOME, 422: _OUTCOME}


def _outcome(problem: FhirProblem) -> JSONResponse:
    return JSONResponse(problem.outcome(), status_code=problem.status, media_type=FHIR_JSON)


@router.post(
    "/CoverageEligibilityRequest",
    openapi_extra={
        **_body(
            "An R4 CoverageEligibilityRequest: patient as Patient/{member id}, a contained Patient with "
            "the member identifier, or that identifier; servicedDate or servicedPeriod (today when "
            "absent); purpose validation or benefits."
        ),
        SCOPE_OVERRIDE: "eligibility:read",  # a question, asked with POST as FHIR prescribes
    },
    responses={
        200: {"description": "An R4 CoverageEligibilityResponse.", "content": {FHIR_JSON: {}}},
        **_PROBLEMS,
    },
)
async def post_coverage_eligibility_request(request: Request, db: DatabaseDep, caller: CallerDep) -> Response:
    """Is the member covered on the service date (or over the service period)? A member the
    caller's organization does not see is answered as one the registry does not know."""
    try:
        req = parse_resource(CoverageEligibilityRequest, await request.body())
        question = eligibility_question(req, PROFILE, datetime.now(UTC).date())
    except FhirProblem as problem:
        return _outcome(problem)
    history = await views.member_history(db, question.member_id, Audience.of(caller))
    answer = eligibility_response(
        question, question.answer(history), created=datetime.now(UTC), profile=PROFILE
    )
    return Response(answer.model_dump_json(exclude_none=True), media_type=FHIR_JSON)


@router.post(
    "/Group",
    openapi_extra=_body(
        "A member attribution list (Da Vinci ATR style R4 Group): managingEntity the provider "
        "organization, each member a Patient reference with the attribution period. The plan may "
        "attribute any member; a provider or ACO only its own members, to itself."
    ),
    response_model=None,
    responses={200: {"description": "What the list recorded."}, 403: _OUTCOME, **_PROBLEMS},
)
async def post_group(request: Request, db: DatabaseDep, caller: CallerDep) -> Any:
    """Attribute the Group's members to its managing organization, as new coverage history."""
    try:
        attributions = attribution_list(parse_resource(Group, await request.body()), PROFILE)
        audience = Audience.of(caller)
        if not audience.sees_all and attributions.provider_org_id != caller.org:
            raise FhirProblem(
                [
                    Issue(
                        "Group.managingEntity",
                        "a provider or ACO attributes members only to itself",
                        "forbidden",
                    )
                ],
                status=403,
            )
        return await handlers.record_attribution(db, attributions, audience)
    except FhirProblem as problem:
        return _outcome(problem)
