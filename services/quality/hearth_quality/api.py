"""HTTP routes of the quality service: the measure catalogue, on-demand runs, current results."""

from datetime import datetime
from decimal import Decimal
from typing import Annotated

from fastapi import APIRouter, Query
from pydantic import BaseModel, ConfigDict, Field

from hearth_platform.app import DatabaseDep
from hearth_schemas.base import Identifier, Month

from . import handlers
from .domain import MeasureResult
from .measures import CATALOGUE
from .ratio import RatioMeasure

router = APIRouter(tags=["measures"])

MONTH_PATTERN = r"^\d{4}-(0[1-9]|1[0-2])$"
MULTIPLIERS: dict[str, Decimal] = {
    m.measure_id: m.multiplier if isinstance(m, RatioMeasure) else Decimal(1) for m in CATALOGUE
}


class MeasureOut(BaseModel):
    measure_id: str
    version: str
    title: str
    period_kind: str
    minimum_denominator: int
    multiplier: Decimal = Field(
        description="The published rate is numerator / denominator; rate x multiplier is the "
        "figure of the specification (12,000 for a rate per 1,000 member-months, annualized)."
    )


class RunIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    period: Month


class ResultOut(BaseModel):
    score_id: str
    provider_org_id: str
    measure_id: str
    measure_version: str
    period: str
    numerator: int
    denominator: int
    rate: Decimal | None
    scaled_rate: Decimal | None = Field(description="rate x the measure's multiplier")
    reported: bool
    run: int
    computed_at: datetime

    @classmethod
    def of(cls, r: MeasureResult) -> "ResultOut":
        s = r.score
        multiplier = MULTIPLIERS.get(s.measure_id, Decimal(1))
        return cls(
            score_id=r.score_id,
            provider_org_id=s.provider_org_id,
            measure_id=s.measure_id,
            measure_version=s.measure_version,
            period=s.period,
            numerator=s.numerator,
            denominator=s.denominator,
            rate=s.rate,
            scaled_rate=None if s.rate is None else s.rate * multiplier,
            reported=s.reported,
            run=r.run,
            computed_at=r.computed_at,
        )


class RunOut(BaseModel):
    period: str
    run: int
    computed_at: datetime
    results: list[ResultOut]


class ResultsOut(BaseModel):
    period: str
    results: list[ResultOut]


@router.get("/measures", response_model=list[MeasureOut])
async def get_measures() -> list[MeasureOut]:
    """The shipped measures and the version each computes today."""
    return [
        MeasureOut(
            measure_id=m.measure_id,
            version=m.version,
            title=m.title,
            period_kind=m.period_kind,
            minimum_denominator=m.minimum_denominator,
            multiplier=MULTIPLIERS[m.measure_id],
        )
        for m in CATALOGUE
    ]


@router.post("/measures/run", response_model=RunOut)
async def post_run(body: RunIn, db: DatabaseDep) -> RunOut:
    """Score the period now, as a new run: its results become current, earlier runs are kept, and
    each result is published as `PerformanceScored`."""
    outcome = await handlers.run_measures(db, body.period)
    return RunOut(
        period=outcome.period,
        run=outcome.run,
        computed_at=outcome.computed_at,
        results=[ResultOut.of(r) for r in outcome.results],
    )


@router.get("/measures/results", response_model=ResultsOut)
async def get_results(
    db: DatabaseDep,
    period: Annotated[str, Query(pattern=MONTH_PATTERN, description="YYYY-MM")],
    provider_org_id: Annotated[Identifier | None, Query()] = None,
) -> ResultsOut:
    """The current result of each measure and organization for the period (empty before any run)."""
    results = await handlers.current_results(db, period, provider_org_id)
    return ResultsOut(period=period, results=[ResultOut.of(r) for r in results])
