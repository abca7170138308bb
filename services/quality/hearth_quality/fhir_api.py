"""FHIR R4 routes of the quality service: `MeasureReport` searches (summary and individual)."""

from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query
from fastapi.encoders import jsonable_encoder
from fastapi.responses import JSONResponse

from hearth_platform.app import DatabaseDep
from hearth_platform.auth import CallerDep
from hearth_schemas.base import Identifier, MemberId

from . import handlers
from .authorization import readable_org
from .domain import PERIOD_PATTERN
from .fhir import bundle, individual_reports, summary_reports
from .measures import PARAMETERS

router = APIRouter(tags=["fhir"])
FHIR_JSON = "application/fhir+json"
CONFIG: dict[str, str] = dict(PARAMETERS["fhir"])


def _fhir(body: dict[str, Any]) -> JSONResponse:
    """Decimals (scores with at most 6 places) go out as JSON numbers, as FHIR wants."""
    return JSONResponse(jsonable_encoder(body), media_type=FHIR_JSON)


@router.get("/fhir/MeasureReport", response_class=JSONResponse)
async def search_measure_reports(
    db: DatabaseDep,
    caller: CallerDep,
    period: Annotated[str, Query(pattern=PERIOD_PATTERN, description="YYYY-MM or YYYY-Qn")],
    reporter: Annotated[Identifier | None, Query(description="provider organization id")] = None,
    subject: Annotated[MemberId | None, Query(description="member id: individual reports")] = None,
) -> JSONResponse:
    """A searchset Bundle. Without `subject`: the summary reports of the period's current
    results (one per organization and measure). With `subject`: the member's individual reports,
    computed now from the member's facts. A provider organization's client gets its own
    organization's reports only: for a member it never served, an empty Bundle, as for a member
    nobody knows (so a guessed member id confirms nothing); 403 for another `reporter`."""
    org = readable_org(caller, reporter, "reporter")
    if subject is None:
        results = await handlers.current_results(db, period, org)
        return _fhir(bundle(summary_reports(results, CONFIG)))
    scores = await handlers.member_scores(db, period, subject, org)
    return _fhir(bundle(individual_reports(subject, scores, datetime.now(UTC), CONFIG)))
