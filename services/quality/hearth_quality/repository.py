"""SQL of the facts quality keeps: set-based upserts of consumed events, reported care, and the
facts of one period (results and runs are in runs_repository.py)."""

from collections.abc import Iterable, Sequence
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import Table, and_, exists, or_, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncConnection

from .domain import Assessment, Enrolment, Period, Population
from .facts import FHU_ITEMS, ClaimLine, Referral, Survey, Visit
from .tables import (
    assessments,
    claim_lines,
    disenrolments,
    enrolments,
    referrals,
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

    async def serves(self, provider_org_id: str, member_id: str) -> bool:
        """Whether the member was ever enrolled with, or referred to, the organization."""
        enrolled = select(enrolments.c.member_id).where(
            enrolments.c.member_id == member_id, enrolments.c.provider_org_id == provider_org_id
        )
        referred = select(referrals.c.member_id).where(
            referrals.c.member_id == member_id, referrals.c.provider_org_id == provider_org_id
        )
        found = await self.conn.execute(select(exists(enrolled) | exists(referred)))
        return bool(found.scalar_one())

    async def add_visit(self, visit: Visit, received_at: datetime) -> None:
        fields = {k: v for k, v in vars(visit).items() if k != "received_on"}
        await self.conn.execute(visits.insert().values(**fields, received_at=received_at))

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

    async def add_referrals(self, rows: Iterable[dict[str, Any]]) -> None:
        await self._upsert(referrals, rows)

    async def population(
        self, period: Period, lookback_days: int = 0, member_id: str | None = None
    ) -> Population:
        """Enrolments in force at some time from `lookback_days` before the period to its end (a
        superset check; the domain decides exactly), referrals dated in that span, every
        assessment of their members, their visits and surveys dated in the period, and every line
        of their claims that touch the span: seven queries whatever the size. With `member_id`,
        that member's facts only."""
        since = period.start - timedelta(days=min(lookback_days, (period.start - date.min).days))
        in_span = and_(
            enrolments.c.effective_date <= period.end,
            or_(disenrolments.c.effective_date.is_(None), disenrolments.c.effective_date > since),
        )
        referred_in_span = referrals.c.referral_date.between(since, period.end)
        if member_id is not None:
            in_span = and_(in_span, enrolments.c.member_id == member_id)
            referred_in_span = and_(referred_in_span, referrals.c.member_id == member_id)
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
            .where(in_span)
        )
        referred = await self.conn.execute(select(referrals).where(referred_in_span))
        members = select(enrolments.c.member_id).select_from(joined).where(in_span)
        referred_members = select(referrals.c.member_id).where(referred_in_span)
        found = await self.conn.execute(
            select(assessments).where(
                or_(assessments.c.member_id.in_(members), assessments.c.member_id.in_(referred_members))
            )
        )
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
        claims_in_span = select(claim_lines.c.claim_id).where(
            or_(claim_lines.c.member_id.in_(members), claim_lines.c.member_id.in_(referred_members)),
            claim_lines.c.service_from <= period.end,
            claim_lines.c.service_to >= since,
        )
        claimed = await self.conn.execute(
            select(claim_lines).where(claim_lines.c.claim_id.in_(claims_in_span))
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
                    referral_id=a.referral_id,
                    present_fields=frozenset(a.present_fields),
                )
                for a in found
            ),
            (
                Visit(
                    v.visit_id,
                    v.member_id,
                    v.provider_org_id,
                    v.visit_date,
                    v.discipline,
                    v.mode,
                    v.minutes,
                    v.received_at.date(),
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
                    c.discharge_status,
                )
                for c in claimed
            ),
            (Referral(r.referral_id, r.member_id, r.referral_date, r.provider_org_id) for r in referred),
        )
