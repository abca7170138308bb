"""FHIR R4 routes of the referral service: a ServiceRequest in, the Task that tracks it out.

Problems are answered with an `OperationOutcome` (400 for a body that is not JSON or a search
without its parameter, 404 for an unknown Task, 422 for an invalid or non-palliative
ServiceRequest), never with Hearth's own error body: FHIR clients read the former.
"""

from dataclasses import replace
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request, Response
from fastapi.responses import JSONResponse

from hearth_platform.app import DatabaseDep, RuntimeDep
from hearth_platform.auth import CallerDep
from hearth_platform.db import current_trace

from . import closed_loop
from .access import scoped_key
from .fhir import FHIR_ID, FhirProblem, Issue, read_referral
from .fhir_profile import load_fhir_profile
from .fhir_task import searchset, task

router = APIRouter(prefix="/fhir", tags=["fhir"])

FHIR_JSON = "application/fhir+json"
PROFILE = load_fhir_profile()

_SCHEMA = {"type": "object", "required": ["resourceType"], "properties": {"resourceType": {"type": "string"}}}
_BODY = {
    "requestBody": {
        "required": True,
        "description": (
            "An R4 ServiceRequest for palliative care (SNOMED CT 103735009 in code or category) with "
            "its Patient (member identifier) and Coverage contained, or a transaction Bundle holding "
            "the ServiceRequest beside them. See hearth_referral/fhir.py for what is read."
        ),
        "content": {FHIR_JSON: {"schema": _SCHEMA}, "application/json": {"schema": _SCHEMA}},
    }
}
_OUTCOME = {"description": "An OperationOutcome naming each problem.", "content": {FHIR_JSON: {}}}
_TASK = {"description": "An R4 Task.", "content": {FHIR_JSON: {}}}


def _outcome(problem: FhirProblem) -> JSONResponse:
    return JSONResponse(problem.outcome(), status_code=problem.status, media_type=FHIR_JSON)


def _fhir(resource: Any, status_code: int = 200, headers: dict[str, str] | None = None) -> Response:
    return Response(
        resource.model_dump_json(exclude_none=True),
        status_code=status_code,
        media_type=FHIR_JSON,
        headers=headers,
    )


@router.post(
    "/ServiceRequest",
    openapi_extra=_BODY,
    response_model=None,
    responses={
        201: {
            **_TASK,
            "headers": {"Location": {"description": "The Task's URL.", "schema": {"type": "string"}}},
        },
        200: {"description": "A resend of an order already accepted: its Task.", "content": {FHIR_JSON: {}}},
        400: _OUTCOME,
        422: _OUTCOME,
    },
    status_code=201,
)
async def post_service_request(request: Request, runtime: RuntimeDep, caller: CallerDep) -> Response:
    """Refer a member from an EHR (any member: the referral records the sender's organization,
    whose Task it is). The answer is the Task that reports the referral's progress
    (`GET /fhir/Task/{id}`); a resend of the same order by the same organization answers 200 with
    the same Task."""
    try:
        referral = read_referral(await request.body(), PROFILE)
    except FhirProblem as problem:
        return _outcome(problem)
    referral = replace(referral, request_key=scoped_key(caller, referral.request_key))
    command = closed_loop.ReceiveServiceRequest(
        referral, trace=current_trace.get(), referrer_org_id=caller.org
    )
    intake = await runtime.coalescer(closed_loop.receive_service_requests).submit(command)
    tracked = await closed_loop.tracked_by_service_request(runtime.db, intake.service_request_id, caller)
    answer = task(tracked[0], PROFILE)
    return _fhir(
        answer,
        201 if intake.created else 200,
        {"Location": f"{str(request.base_url).rstrip('/')}/fhir/Task/{answer.id}"},
    )


@router.get("/Task/{task_id}", response_model=None, responses={200: _TASK, 404: _OUTCOME})
async def get_task(task_id: str, db: DatabaseDep, caller: CallerDep) -> Response:
    """The closed-loop status of one referral from an EHR, for the organization that sent it or
    works it (another organization's Task is not found)."""
    if not FHIR_ID.match(task_id):
        return _outcome(FhirProblem([Issue("Task.id", "no such Task", "not-found")], status=404))
    tracked = await closed_loop.tracked_by_task(db, task_id, caller)
    if tracked is None:
        return _outcome(FhirProblem([Issue("Task.id", "no such Task", "not-found")], status=404))
    return _fhir(task(tracked, PROFILE))


@router.get(
    "/Task",
    response_model=None,
    responses={
        200: {"description": "A searchset Bundle of Tasks.", "content": {FHIR_JSON: {}}},
        400: _OUTCOME,
    },
)
async def search_tasks(
    request: Request,
    db: DatabaseDep,
    caller: CallerDep,
    based_on: Annotated[
        str | None,
        Query(alias="based-on", description="ServiceRequest/{id} (or the bare id) the Task is based on."),
    ] = None,
) -> Response:
    """The Tasks based on a ServiceRequest that the caller's organization sent or works (an empty
    searchset for an unknown one or another organization's)."""
    if not based_on:
        return _outcome(
            FhirProblem([Issue("based-on", "the search needs based-on=ServiceRequest/{id}", "required")], 400)
        )
    service_request_id = based_on.removeprefix("ServiceRequest/")
    if not FHIR_ID.match(service_request_id):
        return _outcome(FhirProblem([Issue("based-on", "must reference a ServiceRequest", "invalid")], 400))
    tracked = await closed_loop.tracked_by_service_request(db, service_request_id, caller)
    return _fhir(searchset([task(t, PROFILE) for t in tracked], str(request.base_url).rstrip("/")))
