"""HTTP routes of the quality service: the measure catalogue, on-demand runs, current results."""

from datetime import datetime
from decimal import Decimal
from typing import Annotated

from fastapi import APIRouter, Query, Response
from pydantic import BaseModel, ConfigDict, Field

from hearth_platform.app import DatabaseDep
from hearth_platform.auth import CallerDep
from hearth_schemas.base import Identifier

from . import handlers
from .authorization import check_plan, readable_org
from .changes import ScoreChange
from .domain import PERIOD_PATTERN, MeasureResult, MeasureScore
from .measures import CATALOGUE
from .ratio import RatioMeasure
from .reports import results_csv

router = APIRouter(tags=["measures"])

PeriodLabel = Annotated[
    str, Field(pattern=PERIOD_PATTERN, examples=["2026-10", "2026-Q4"], description="YYYY-MM or YYYY-Qn")
]
PeriodQuery = Annotated[str, Query(pattern=PERIOD_PATTERN, description="YYYY-MM or YYYY-Qn")]
MULTIPLIERS: dict[str, Decimal] = {
    m.measure_id: m.multiplier if isinstance(m, RatioMeasure) else Decimal(1) for m in CATALOGUE
}


class MeasureOut(BaseModel):
    measure_id: str
    version: str
    title: str
    period_kinds: list[str]
    minimum_denominator: int
    multiplier: Decimal = Field(
        description="The published rate is numerator / denominator; rate x multiplier is the "
        "figure of the specification (12,000 for a rate per 1,000 member-months, annualized)."
    )


class RunIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    period: PeriodLabel


class ResultOut(BaseModel):
    score_id: str
    provider_org_id: str
    measure_id: str
    measure_version: str
    period: str
    numerator: int
    denominator: int
    exclusions: int
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
            exclusions=s.exclusions,
            rate=s.rate,
            scaled_rate=None if s.rate is None else s.rate * multiplier,
            reported=s.reported,
            run=r.run,
            computed_at=r.computed_at,
        )


class FiguresOut(BaseModel):
    numerator: int
    denominator: int
    exclusions: int
    rate: Decimal | None
    reported: bool

    @classmethod
    def of(cls, s: MeasureScore | None) -> "FiguresOut | None":
        if s is None:
            return None
        return cls(
            numerator=s.numerator,
            denominator=s.denominator,
            exclusions=s.exclusions,
            rate=s.rate,
            reported=s.reported,
        )


class ChangeOut(BaseModel):
    """One score that moved: the figures before and after (null where there was none)."""

    measure_id: str
    provider_org_id: str
    previous: FiguresOut | None
    new: FiguresOut | None

    @classmethod
    def of(cls, c: ScoreChange) -> "ChangeOut":
        return cls(
            measure_id=c.measure_id,
            provider_org_id=c.provider_org_id,
            previous=FiguresOut.of(c.previous),
            new=FiguresOut.of(c.new),
        )


class RunOut(BaseModel):
    period: str
    run: int
    trigger: str = Field(description="month_closed, on_demand, or late_data (facts arrived after a run)")
    computed_at: datetime
    changes: list[ChangeOut] = Field(description="What moved since the run before (empty for the first)")
    results: list[ResultOut]

    @classmethod
    def of(cls, run: handlers.MeasureRun) -> "RunOut":
        return cls(
            period=run.period,
            run=run.run,
            trigger=run.trigger,
            computed_at=run.computed_at,
            changes=[ChangeOut.of(c) for c in run.changes],
            results=[ResultOut.of(r) for r in run.results],
        )


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
            period_kinds=list(m.period_kinds),
            minimum_denominator=m.minimum_denominator,
            multiplier=MULTIPLIERS[m.measure_id],
        )
        for m in CATALOGUE
    ]


@router.post("/measures/run", response_model=RunOut)
async def post_run(body: RunIn, db: DatabaseDep, caller: CallerDep) -> RunOut:
    """Score the period (a month, or a quarter as a whole) now, as a new run: its results become
    current, earlier runs are kept, and each result is published as `PerformanceScored`. The
    plan's clients only (403 otherwise): a run scores every organization at once."""
    check_plan(caller, "scoring a period on demand")
    return RunOut.of(await handlers.run_measures(db, body.period))


@router.get("/measures/runs", response_model=list[RunOut])
async def get_runs(
    db: DatabaseDep,
    caller: CallerDep,
    period: PeriodQuery,
    provider_org_id: Annotated[Identifier | None, Query()] = None,
) -> list[RunOut]:
    """Every run of the period, oldest first, each with its results and what changed since the
    run before (earlier results are never overwritten). A provider organization's client gets
    its own results only (403 for another organization's, see authorization.py)."""
    org = readable_org(caller, provider_org_id)
    return [RunOut.of(r) for r in await handlers.run_history(db, period, org)]


@router.get("/measures/results", response_model=ResultsOut)
async def get_results(
    db: DatabaseDep,
    caller: CallerDep,
    period: PeriodQuery,
    provider_org_id: Annotated[Identifier | None, Query()] = None,
) -> ResultsOut:
    """The current result of each measure and organization for the month or quarter (empty
    before any run of that period). A provider organization's client gets its own only."""
    results = await handlers.current_results(db, period, readable_org(caller, provider_org_id))
    return ResultsOut(period=period, results=[ResultOut.of(r) for r in results])


@router.get(
    "/measures/results.csv",
    response_class=Response,
    responses={200: {"content": {"text/csv": {}}, "description": "One row per measure and organization"}},
)
async def get_results_csv(
    db: DatabaseDep,
    caller: CallerDep,
    period: PeriodQuery,
    provider_org_id: Annotated[Identifier | None, Query()] = None,
) -> Response:
    """The current results as CSV with a header row (only the header before any run); a provider
    organization's client gets its own rows only."""
    results = await handlers.current_results(db, period, readable_org(caller, provider_org_id))
    return Response(
        results_csv(results, MULTIPLIERS),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="quality-{period}.csv"'},
    )
