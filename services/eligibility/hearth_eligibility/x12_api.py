"""HTTP routes for X12 EDI: 834 enrolment files in; 270 inquiries answered with 271s."""

from typing import Annotated

from fastapi import APIRouter, Query, Request, Response
from pydantic import BaseModel, Field

from hearth_platform.app import DatabaseDep
from hearth_platform.auth import SCOPE_OVERRIDE, CallerDep
from hearth_platform.errors import HearthError, Invalid

from .access import Audience, require_plan
from .x12 import answering, loading

router = APIRouter(tags=["x12"])

X12_MEDIA_TYPES = ("application/edi-x12", "text/plain", "application/x12")


class UnsupportedX12(HearthError):
    status_code = 415
    code = "unsupported_media_type"


def _x12_body(description: str) -> dict[str, object]:
    return {
        "requestBody": {
            "required": True,
            "description": description,
            "content": {t: {"schema": {"type": "string"}} for t in X12_MEDIA_TYPES},
        }
    }


_REJECTED = {
    422: {
        "description": "The interchange is not valid X12 for this transaction (pyx12): each error names "
        "the segment id, its position (segment number in the transaction set), its line and the reason. "
        "Nothing was loaded."
    }
}


async def x12_text(request: Request) -> str:
    media_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if media_type not in X12_MEDIA_TYPES:
        raise UnsupportedX12("send X12 as application/edi-x12 (or text/plain)")
    try:
        return (await request.body()).decode("ascii")
    except UnicodeDecodeError:
        raise Invalid(
            "X12 must be plain ASCII text",
            detail=[
                {"field": "(body)", "segment": "ISA", "position": 1, "line": 1, "reason": "must be ASCII"}
            ],
        ) from None


class EnrolmentFileOut(BaseModel):
    members: int
    adds: int = Field(description="Member loops with INS03 = 021.")
    changes: int = Field(description="Member loops with INS03 = 001.")
    terminations: int = Field(description="Member loops with INS03 = 024.")
    spans_added: int = Field(description="New coverage spans recorded (changes and terminations supersede).")
    unchanged: int = Field(description="Member loops that restate coverage already in effect.")
    disenrolled: int = Field(
        description="Enrolled members whose coverage this file ends: disenrolled, reason coverage_lost."
    )
    plan_codes_version: str
    validated_by: str = Field(
        description="pyx12 (its full map walk) or the one-pass rules compiled from pyx12's map."
    )


@router.post(
    "/x12/834",
    response_model=EnrolmentFileOut,
    openapi_extra=_x12_body("An 834 benefit enrolment interchange (005010X220A1)."),
    responses=_REJECTED,
)
async def post_834(
    request: Request,
    db: DatabaseDep,
    caller: CallerDep,
    validation: Annotated[
        loading.Validation,
        Query(
            description="full: pyx12's map walk; rules: the one-pass rules compiled from pyx12's map "
            "(a file using loops outside them gets the full walk); auto: full for small files."
        ),
    ] = "auto",
) -> loading.EnrolmentFileLoaded:
    """Load an 834 whole, or nothing of it: adds, changes and terminations become coverage spans
    (a change or termination supersedes the span it corrects; history is kept); an enrolled
    member whose coverage ends is disenrolled (coverage lost). The plan's operation; a file may
    be as large as the service's bulk limit for this path."""
    require_plan(caller, "loading an 834 enrolment file")
    text = await x12_text(request)
    return await loading.load_enrolment_file(db, text, validation)


@router.post(
    "/x12/270",
    response_class=Response,
    openapi_extra={
        **_x12_body("A 270 eligibility inquiry (005010X279A1 or 004010X092A1)."),
        SCOPE_OVERRIDE: "eligibility:read",  # an inquiry: it reads coverage, changes nothing
    },
    responses={
        200: {"description": "The 271 eligibility response.", "content": {"application/edi-x12": {}}},
        **_REJECTED,
    },
)
async def post_270(request: Request, db: DatabaseDep, caller: CallerDep) -> Response:
    """Answer a 270 with a 271: each subscriber's coverage on the date asked, from the registry.
    A subscriber the caller's organization does not see is answered as one the registry does not
    know (not in force)."""
    text = await x12_text(request)
    answer = await answering.answer_inquiry(db, text, Audience.of(caller))
    return Response(answer, media_type="application/edi-x12")
