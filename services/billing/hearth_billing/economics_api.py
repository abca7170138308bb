"""`GET /reports/economic-evaluation?from=YYYY-MM&to=YYYY-MM`: the economic evaluation of the
bundled payment over closed months (definitions and rounding in economics.py), as JSON, or as CSV
with `?format=csv` or `Accept: text/csv` (the query parameter wins).

Access: the plan sees every organization and the program's row; a provider organization sees its
own row only and no program row (plan-wide totals are the plan's, as the month summary is); an
ACO is refused (billing does not know ACO attribution).
"""

from decimal import Decimal
from typing import Annotated, Literal

from fastapi import APIRouter, Header, Query
from fastapi.responses import Response
from pydantic import BaseModel, ConfigDict

from hearth_platform.app import DatabaseDep
from hearth_platform.auth import CallerDep
from hearth_platform.errors import Invalid

from .access import provider_filter
from .economics import report_csv
from .economics_handlers import economic_evaluation, economics_settings
from .periods import Month

router = APIRouter(tags=["billing"])

# YYYY-MM from year 0001 (no calendar has a year 0).
REPORT_MONTH = r"^(000[1-9]|00[1-9]\d|0[1-9]\d\d|[1-9]\d{3})-(0[1-9]|1[0-2])$"


class EconomicRowOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    provider_org_id: str | None
    members: int
    member_months: int
    member_months_before: int
    bundled_paid: Decimal
    bundled_pmpm: Decimal | None
    claims_cost_before: Decimal
    claims_cost_pmpm_before: Decimal | None
    claims_cost_after: Decimal
    claims_cost_pmpm_after: Decimal | None
    hospital_days_before: int
    hospital_days_per_1000_before: Decimal | None
    hospital_days_after: int
    hospital_days_per_1000_after: Decimal | None
    return_per_dollar: Decimal | None


class EconomicEvaluationOut(BaseModel):
    from_month: str
    to_month: str
    months_before: int
    version: str
    rows: list[EconomicRowOut]


@router.get(
    "/reports/economic-evaluation",
    response_model=EconomicEvaluationOut,
    responses={200: {"content": {"text/csv": {}}, "description": "JSON, or CSV with ?format=csv."}},
)
async def get_economic_evaluation(
    db: DatabaseDep,
    caller: CallerDep,
    from_month: Annotated[str, Query(alias="from", pattern=REPORT_MONTH, description="first month, YYYY-MM")],
    to_month: Annotated[str, Query(alias="to", pattern=REPORT_MONTH, description="last month, YYYY-MM")],
    months_before: Annotated[
        int | None, Query(ge=1, le=36, description="baseline months before enrolment (economics.toml)")
    ] = None,
    format: Annotated[
        Literal["json", "csv"] | None, Query(description="csv: one row per organization")
    ] = None,
    accept: Annotated[str | None, Header(max_length=1000)] = None,
) -> EconomicEvaluationOut | Response:
    """Bundled payments PMPM next to claims cost PMPM before and after enrolment, hospital days
    per 1,000 member-months, and the claims cost saved per dollar paid, per organization."""
    own = provider_filter(caller)
    first, last = Month.parse(from_month), Month.parse(to_month)
    if first > last:
        raise Invalid(
            f"the report's months run backwards: from {first} is after to {last}",
            detail=[{"field": "to", "reason": "must not be before from"}],
        )
    settings = economics_settings()
    baseline = months_before or settings.months_before
    rows = await economic_evaluation(db, first, last, baseline, own)
    wants_csv = format == "csv" or (format is None and "text/csv" in (accept or ""))
    if wants_csv:
        return Response(
            report_csv(rows),
            media_type="text/csv",
            headers={"content-disposition": f'attachment; filename="economic-evaluation-{first}-{last}.csv"'},
        )
    return EconomicEvaluationOut(
        from_month=str(first),
        to_month=str(last),
        months_before=baseline,
        version=settings.version,
        rows=[EconomicRowOut.model_validate(r) for r in rows],
    )
