"""FHIR R4 routes of the quality service: `MeasureReport` searches (summary and individual)."""

from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query
from fastapi.encoders import jsonable_encoder
from fastapi.responses import JSONResponse

from hearth_platform.app import DatabaseDep
from hearth_schemas.base import Identifier, MemberId

from . import handlers
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
    period: Annotated[str, Query(pattern=PERIOD_PATTERN, description="YYYY-MM or YYYY-Qn")],
    reporter: Annotated[Identifier | None, Query(description="provider organization id")] = None,
    subject: Annotated[MemberId | None, Query(description="member id: individual reports")] = None,
) -> JSONResponse:
    """A searchset Bundle. Without `subject`: the summary reports of the period's current
    results (one per organization and measure). With `subject`: the member's individual reports,
    computed now from the member's facts."""
    if subject is None:
        results = await handlers.current_results(db, period, reporter)
        return _fhir(bundle(summary_reports(results, CONFIG)))
    scores = await handlers.member_scores(db, period, subject)
    if reporter is not None:
        scores = [s for s in scores if s.provider_org_id == reporter]
    return _fhir(bundle(individual_reports(subject, scores, datetime.now(UTC), CONFIG)))
