"""All SQL of the quality service: set-based fact upserts, the facts of a period, and results."""

import zlib
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Table, and_, func, or_, select, text, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncConnection

from .domain import Assessment, Enrolment, MeasureResult, MeasureScore, Period, Population
from .facts import FHU_ITEMS, ClaimLine, Survey, Visit
from .tables import (
    assessments,
    claim_lines,
    disenrolments,
    enrolments,
    measure_results,
    measure_runs,
    surveys,
    tier_changes,
    visits,
)


def _last_per_key(rows: Iterable[dict[str, Any]], key: Sequence[str]) -> list[dict[str, Any]]:
    """One row per key, the last one seen: Postgres refuses to upsert the same key twice in one
    statement, and within a run of events the later one is the newer fact."""
    unique: dict[tuple[Any, ...], dict[str, Any]] = {}
    for row in rows:
        unique[tuple(row[k] for k in key)] = row
    return list(unique.values())


def _result(row: Any) -> MeasureResult:
    return MeasureResult(
        score_id=row.score_id,
        run=row.run,
        computed_at=row.computed_at,
        score=MeasureScore(
            measure_id=row.measure_id,
            measure_version=row.measure_version,
            provider_org_id=row.provider_org_id,
            period=row.period,
            numerator=row.numerator,
            denominator=row.denominator,
            rate=row.rate,
            reported=row.reported,
        ),
    )


class FactRepository:
    """Facts from other services' events, upserted by natural key in one statement per run."""

    def __init__(self, conn: AsyncConnection) -> None:
        self.conn = conn

    async def _upsert(self, table: Table, rows: Iterable[dict[str, Any]]) -> None:
        key = [c.name for c in table.primary_key.columns]
        unique = _last_per_key(rows, key)
        if not unique:
            return
        stmt = pg_insert(table)
        stmt = stmt.on_conflict_do_update(
            index_elements=key,
            set_={c.name: stmt.excluded[c.name] for c in table.columns if c.name not in key},
        )
        await self.conn.execute(stmt, unique)

    async def add_enrolments(self, rows: Iterable[dict[str, Any]]) -> None:
        await self._upsert(enrolments, rows)

    async def add_disenrolments(self, rows: Iterable[dict[str, Any]]) -> None:
        await self._upsert(disenrolments, rows)

    async def add_tier_changes(self, rows: Iterable[dict[str, Any]]) -> None:
        await self._upsert(tier_changes, rows)

    async def add_assessments(self, rows: Iterable[dict[str, Any]]) -> None:
        await self._upsert(assessments, rows)

    async def add_claim_lines(self, rows: Iterable[dict[str, Any]]) -> None:
        await self._upsert(claim_lines, rows)

    async def enrolments_with(self, member_id: str, provider_org_id: str) -> list[Enrolment]:
        """The member's enrolments with one organization, each with its disenrolment if known."""
        rows = await self.conn.execute(
            select(
                enrolments.c.enrollment_id,
                enrolments.c.effective_date,
                disenrolments.c.effective_date.label("ended_on"),
                disenrolments.c.reason,
            )
            .select_from(
                enrolments.outerjoin(
                    disenrolments, disenrolments.c.enrollment_id == enrolments.c.enrollment_id
                )
            )
            .where(enrolments.c.member_id == member_id, enrolments.c.provider_org_id == provider_org_id)
        )
        return [
            Enrolment(r.enrollment_id, member_id, provider_org_id, r.effective_date, r.ended_on, r.reason)
            for r in rows
        ]

    async def add_visit(self, visit: Visit, received_at: datetime) -> None:
        await self.conn.execute(visits.insert().values(**vars(visit), received_at=received_at))

    async def add_survey(self, survey: Survey, received_at: datetime) -> None:
        await self.conn.execute(
            surveys.insert().values(
                survey_id=survey.survey_id,
                member_id=survey.member_id,
                provider_org_id=survey.provider_org_id,
                survey_date=survey.survey_date,
                mode=survey.mode,
                proxy=survey.proxy,
                pain_help=survey.pain_help,
                received_at=received_at,
                **{item: survey.answers[item] for item in FHU_ITEMS},
            )
        )

    async def population(self, period: Period) -> Population:
        """Enrolments in force at some time in the period (a superset check; the domain decides
        exactly), every assessment of their members, and their visits, surveys and claim lines
        dated in the period (with every line of a claim that has one there): five queries
        whatever the size."""
        in_period = and_(
            enrolments.c.effective_date <= period.end,
            or_(disenrolments.c.effective_date.is_(None), disenrolments.c.effective_date > period.start),
        )
        joined = enrolments.outerjoin(
            disenrolments, disenrolments.c.enrollment_id == enrolments.c.enrollment_id
        )
        rows = await self.conn.execute(
            select(
                enrolments.c.enrollment_id,
                enrolments.c.member_id,
                enrolments.c.provider_org_id,
                enrolments.c.effective_date,
                disenrolments.c.effective_date.label("ended_on"),
                disenrolments.c.reason,
            )
            .select_from(joined)
            .where(in_period)
        )
        members = select(enrolments.c.member_id).select_from(joined).where(in_period)
        found = await self.conn.execute(select(assessments).where(assessments.c.member_id.in_(members)))
        visited = await self.conn.execute(
            select(visits).where(
                visits.c.member_id.in_(members), visits.c.visit_date.between(period.start, period.end)
            )
        )
        surveyed = await self.conn.execute(
            select(surveys).where(
                surveys.c.member_id.in_(members), surveys.c.survey_date.between(period.start, period.end)
            )
        )
        claims_in_period = select(claim_lines.c.claim_id).where(
            claim_lines.c.member_id.in_(members),
            claim_lines.c.service_from.between(period.start, period.end),
        )
        claimed = await self.conn.execute(
            select(claim_lines).where(claim_lines.c.claim_id.in_(claims_in_period))
        )
        return Population.of(
            (
                Enrolment(
                    r.enrollment_id, r.member_id, r.provider_org_id, r.effective_date, r.ended_on, r.reason
                )
                for r in rows
            ),
            (
                Assessment(
                    assessment_id=a.assessment_id,
                    member_id=a.member_id,
                    provider_org_id=a.provider_org_id,
                    assessed_on=a.assessed_on,
                    surrogate_identified=a.surrogate_identified,
                    surrogate_relationship=a.surrogate_relationship,
                    goals_of_care_documented=a.goals_of_care_documented,
                    advance_directive_on_file=a.advance_directive_on_file,
                )
                for a in found
            ),
            (
                Visit(
                    v.visit_id, v.member_id, v.provider_org_id, v.visit_date, v.discipline, v.mode, v.minutes
                )
                for v in visited
            ),
            (
                Survey(
                    s.survey_id,
                    s.member_id,
                    s.provider_org_id,
                    s.survey_date,
                    s.mode,
                    s.proxy,
                    {item: getattr(s, item) for item in FHU_ITEMS},
                    s.pain_help,
                )
                for s in surveyed
            ),
            (
                ClaimLine(
                    c.claim_id,
                    c.line_number,
                    c.member_id,
                    c.claim_type,
                    c.service_from,
                    c.service_to,
                    c.admission_type,
                    c.ed_visit,
                )
                for c in claimed
            ),
        )


class ResultRepository:
    """Measure runs and their results; earlier runs are kept, only the latest is current."""

    def __init__(self, conn: AsyncConnection) -> None:
        self.conn = conn

    async def lock_period(self, period: str) -> None:
        """Serialize runs of one period (a month close and an on-demand run at the same time)
        until the transaction ends, so run numbers and the current flag stay consistent."""
        await self.conn.execute(
            text("SELECT pg_advisory_xact_lock(:k)"),
            {"k": zlib.crc32(f"hearth-quality-run:{period}".encode())},
        )

    async def start_run(self, period: str, trigger: str, cause_event_id: str | None, at: datetime) -> int:
        last = (
            await self.conn.execute(
                select(func.coalesce(func.max(measure_runs.c.run), 0)).where(measure_runs.c.period == period)
            )
        ).scalar_one()
        run = int(last) + 1
        await self.conn.execute(
            measure_runs.insert().values(
                period=period, run=run, trigger=trigger, cause_event_id=cause_event_id, computed_at=at
            )
        )
        return run

    async def replace_current(self, period: str, results: Sequence[MeasureResult]) -> None:
        """The new run's results become current; every earlier result of the period is kept but
        no longer current (also those of an organization that has no result in the new run)."""
        await self.conn.execute(
            update(measure_results)
            .where(measure_results.c.period == period, measure_results.c.current)
            .values(current=False)
        )
        if results:
            await self.conn.execute(
                measure_results.insert(),
                [
                    {
                        "score_id": r.score_id,
                        "period": r.score.period,
                        "run": r.run,
                        "measure_id": r.score.measure_id,
                        "measure_version": r.score.measure_version,
                        "provider_org_id": r.score.provider_org_id,
                        "numerator": r.score.numerator,
                        "denominator": r.score.denominator,
                        "rate": r.score.rate,
                        "reported": r.score.reported,
                        "current": True,
                        "computed_at": r.computed_at,
                    }
                    for r in results
                ],
            )

    async def current(self, period: str, provider_org_id: str | None = None) -> list[MeasureResult]:
        query = select(measure_results).where(measure_results.c.period == period, measure_results.c.current)
        if provider_org_id is not None:
            query = query.where(measure_results.c.provider_org_id == provider_org_id)
        rows = await self.conn.execute(
            query.order_by(measure_results.c.measure_id, measure_results.c.provider_org_id)
        )
        return [_result(r) for r in rows]
