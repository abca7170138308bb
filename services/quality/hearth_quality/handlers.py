"""Commands and consumed events of the quality service.

Consumed facts (enrolments, disenrolments, tier changes, assessments, claim lines) are stored
set-based: one multi-row upsert per run of events, whatever order they arrive in. Visits and
surveys come from provider organizations over HTTP and are checked against the member's
enrolments with the organization before they are stored. `MonthClosed` scores the month
for every organization with enrolled members; `run_measures` does the same on demand. A period
is scored set-based in Postgres (scores_repository.py); one member's own scores (individual
MeasureReports) by the in-memory engine over that member's facts. Each computation is a new run
of the period whose results become current and go out as `PerformanceScored`, in the same
transaction.
"""

import logging
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

from hearth_platform.cloudevents import Envelope
from hearth_platform.db import Database, UnitOfWork
from hearth_platform.handlers import HandlerRegistry, Received
from hearth_schemas import (
    AssessmentCompleted,
    ClaimLineReceived,
    MemberDisenrolled,
    MemberEnrolled,
    MonthClosed,
    PerformanceScored,
    ReferralReceived,
    TierChanged,
)

from .changes import ScoreChange, changes
from .domain import MeasureResult, MeasureScore, Period, score_all
from .facts import Survey, Visit
from .intake import check_reported_on
from .measures import CATALOGUE, LOOKBACK_DAYS
from .repository import FactRepository
from .runs_repository import LateFactRepository, ResultRepository
from .scores_repository import SetBasedScores

log = logging.getLogger("hearth.quality")
handlers = HandlerRegistry()


@dataclass(frozen=True)
class MeasureRun:
    period: str
    run: int
    computed_at: datetime
    results: list[MeasureResult]
    trigger: str = "on_demand"
    # What moved since the results that were current before this run.
    changes: tuple[ScoreChange, ...] = ()


async def _compute(
    uow: UnitOfWork, period_label: str, trigger: str, caused_by: Envelope | None = None
) -> MeasureRun:
    """Score every catalogued measure for the period as a new run, and stage the events."""
    period = Period.parse(period_label)  # a malformed period is refused before any lock is taken
    results_repo = ResultRepository(uow.conn)
    await results_repo.lock_period(period_label)
    computed_at = datetime.now(UTC)
    scores = await SetBasedScores(uow.conn).score(CATALOGUE, period, LOOKBACK_DAYS)
    run = await results_repo.start_run(
        period_label, trigger, caused_by.id if caused_by else None, computed_at
    )
    previous = [r.score for r in await results_repo.current(period_label)]
    results = [MeasureResult(str(uuid.uuid4()), run, computed_at, s) for s in scores]
    await results_repo.replace_current(period_label, results)
    for r in results:
        uow.publish(
            PerformanceScored(
                score_id=r.score_id,
                provider_org_id=r.score.provider_org_id,
                measure_id=r.score.measure_id,
                measure_version=r.score.measure_version,
                period=r.score.period,
                numerator=r.score.numerator,
                denominator=r.score.denominator,
                rate=r.score.rate,
                reported=r.score.reported,
                computed_at=r.computed_at,
                run=r.run,
            ),
            caused_by=caused_by,
            aggregatetype="measure_result",
        )
    moved = tuple(changes(previous, scores)) if run > 1 else ()
    log.info(
        "measures scored",
        extra={
            "period": period_label,
            "run": run,
            "trigger": trigger,
            "results": len(results),
            "changed": len(moved),
        },
    )
    return MeasureRun(period_label, run, computed_at, results, trigger, moved)


async def recompute_settled(db: Database, settle_seconds: float) -> list[MeasureRun]:
    """Recompute every period whose late facts have settled, each as one new run ("late_data")
    in its own transaction; facts arriving meanwhile mark the period again for a later run."""
    done = []
    while True:
        async with db.unit_of_work() as uow:
            due = await LateFactRepository(uow.conn).take_settled(
                datetime.now(UTC) - timedelta(seconds=settle_seconds)
            )
            if due is None:
                return done
            period, late_facts = due
            outcome = await _compute(uow, period, "late_data")
            await uow.commit()
        log.info("late facts recomputed", extra={"period": period, "late_facts": late_facts})
        done.append(outcome)


async def run_history(db: Database, period: str, provider_org_id: str | None) -> list[MeasureRun]:
    """Every run of the period with its results and what it changed since the run before."""
    Period.parse(period)
    async with db.unit_of_work() as uow:
        repo = ResultRepository(uow.conn)
        runs = await repo.runs(period)
        results = await repo.all_results(period, provider_org_id)
    history, previous = [], []
    for run, trigger, computed_at in runs:
        mine = [r for r in results if r.run == run]
        scores = [r.score for r in mine]
        moved = tuple(changes(previous, scores)) if run > 1 else ()
        history.append(MeasureRun(period, run, computed_at, mine, trigger, moved))
        previous = scores
    return history


async def run_measures(db: Database, period: str) -> MeasureRun:
    """On demand: recompute a period (for example after late data) as a new run."""
    async with db.unit_of_work() as uow:
        outcome = await _compute(uow, period, "on_demand")
        await uow.commit()
        return outcome


async def record_visit(db: Database, visit: Visit, today: date) -> None:
    """Store a reported visit, or refuse it (unknown member, outside the enrolment, future)."""
    async with db.unit_of_work() as uow:
        facts = FactRepository(uow.conn)
        enrolled = await facts.enrolments_with(visit.member_id, visit.provider_org_id)
        check_reported_on("visit_date", visit.visit_date, enrolled, today)
        now = datetime.now(UTC)
        await facts.add_visit(visit, now)
        await LateFactRepository(uow.conn).mark([visit.visit_date], now)
        await uow.commit()


async def record_survey(db: Database, survey: Survey, today: date) -> None:
    """Store a returned survey, or refuse it on the same terms as a visit."""
    async with db.unit_of_work() as uow:
        facts = FactRepository(uow.conn)
        enrolled = await facts.enrolments_with(survey.member_id, survey.provider_org_id)
        check_reported_on("survey_date", survey.survey_date, enrolled, today)
        now = datetime.now(UTC)
        await facts.add_survey(survey, now)
        await LateFactRepository(uow.conn).mark([survey.survey_date], now)
        await uow.commit()


async def current_results(db: Database, period: str, provider_org_id: str | None) -> list[MeasureResult]:
    Period.parse(period)
    async with db.unit_of_work() as uow:
        return await ResultRepository(uow.conn).current(period, provider_org_id)


async def member_scores(
    db: Database, period_label: str, member_id: str, provider_org_id: str | None = None
) -> list[MeasureScore]:
    """One member's own scores for a period, computed now from the member's facts by the same
    measures (nothing stored, nothing published): the basis of an individual MeasureReport.
    With `provider_org_id`, that organization's scores only, and none at all (nothing computed)
    for a member never enrolled with or referred to it."""
    period = Period.parse(period_label)
    async with db.unit_of_work() as uow:
        facts = FactRepository(uow.conn)
        if provider_org_id is not None and not await facts.serves(provider_org_id, member_id):
            return []
        population = await facts.population(period, LOOKBACK_DAYS, member_id)
    scores = score_all(CATALOGUE, population, period_label)
    return [s for s in scores if provider_org_id in (None, s.provider_org_id)]


async def _late(uow: UnitOfWork, days: Iterable[date]) -> None:
    """Facts dated in periods that already have results make those periods due for a
    recomputation (coalesced: see recompute_settled)."""
    await LateFactRepository(uow.conn).mark(days, datetime.now(UTC))


def _facts(items: list[Received[Any]], fields: tuple[str, ...]) -> list[dict[str, Any]]:
    """The fields a measure needs from each event, as rows to store."""
    return [{f: getattr(i.event, f) for f in fields} for i in items]


@handlers.on(MemberEnrolled)
async def on_member_enrolled(uow: UnitOfWork, items: list[Received[MemberEnrolled]]) -> None:
    await FactRepository(uow.conn).add_enrolments(
        _facts(
            items,
            (
                "enrollment_id",
                "member_id",
                "provider_org_id",
                "effective_date",
                "tier",
                "line_of_business",
                "market",
            ),
        )
    )


@handlers.on(MemberDisenrolled)
async def on_member_disenrolled(uow: UnitOfWork, items: list[Received[MemberDisenrolled]]) -> None:
    """Stored even when its enrolment has not arrived yet; the two meet when a period is scored."""
    await FactRepository(uow.conn).add_disenrolments(
        _facts(items, ("enrollment_id", "member_id", "provider_org_id", "effective_date", "reason"))
    )
    await _late(uow, (i.event.effective_date for i in items))


@handlers.on(TierChanged)
async def on_tier_changed(uow: UnitOfWork, items: list[Received[TierChanged]]) -> None:
    """Kept for measures stratified by tier; no shipped measure reads it yet."""
    await FactRepository(uow.conn).add_tier_changes(
        _facts(
            items, ("enrollment_id", "effective_date", "member_id", "provider_org_id", "from_tier", "to_tier")
        )
    )


# The optional findings of an assessment (those that may be missing): data completeness is
# measured over these, by name only.
OPTIONAL_FINDINGS: tuple[str, ...] = tuple(
    name for name, f in AssessmentCompleted.model_fields.items() if f.default is None
)


@handlers.on(ReferralReceived)
async def on_referral_received(uow: UnitOfWork, items: list[Received[ReferralReceived]]) -> None:
    """Kept for the time from referral to assessment: who, when, and to which organization."""
    await FactRepository(uow.conn).add_referrals(
        _facts(items, ("referral_id", "member_id", "referral_date", "provider_org_id"))
    )


@handlers.on(AssessmentCompleted)
async def on_assessment_completed(uow: UnitOfWork, items: list[Received[AssessmentCompleted]]) -> None:
    """Only the measure-relevant structured findings are kept, and the names (not the values)
    of the optional findings the assessment carried."""
    rows = _facts(
        items,
        (
            "assessment_id",
            "member_id",
            "provider_org_id",
            "assessed_on",
            "surrogate_identified",
            "surrogate_relationship",
            "goals_of_care_documented",
            "advance_directive_on_file",
            "referral_id",
        ),
    )
    for row, item in zip(rows, items, strict=True):
        row["present_fields"] = [f for f in OPTIONAL_FINDINGS if getattr(item.event, f) is not None]
    await FactRepository(uow.conn).add_assessments(rows)
    await _late(uow, (i.event.assessed_on for i in items))


@handlers.on(ClaimLineReceived)
async def on_claim_line_received(uow: UnitOfWork, items: list[Received[ClaimLineReceived]]) -> None:
    """Only the utilization fields are kept; a corrected line (same claim and line) replaces it."""
    await FactRepository(uow.conn).add_claim_lines(
        _facts(
            items,
            (
                "claim_id",
                "line_number",
                "member_id",
                "claim_type",
                "service_from",
                "service_to",
                "admission_type",
                "ed_visit",
                "discharge_status",
            ),
        )
    )
    await _late(uow, (d for i in items for d in (i.event.service_from, i.event.service_to)))


@handlers.on(MonthClosed)
async def on_month_closed(uow: UnitOfWork, items: list[Received[MonthClosed]]) -> None:
    """Billing closed a month: score it. Each close is its own run, in arrival order."""
    for item in items:
        await _compute(uow, item.event.month, "month_closed", caused_by=item.envelope)
