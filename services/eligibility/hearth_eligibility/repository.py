"""All SQL of the eligibility service. Loads take sets of members or ids, so a handler reads a
whole Kafka batch's state in a few queries."""

import zlib
from collections import defaultdict
from collections.abc import Collection, Iterable
from datetime import date, datetime
from typing import Any

from sqlalchemy import ColumnElement, Text, any_, bindparam, exists, func, insert, select, text, true, update
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncConnection

from hearth_platform.db import json_rows

from .access import EVERYONE, Audience
from .coverage import CoverageHistory, CoverageSpan
from .domain import Determination, Enrolment
from .tables import coverage_spans, determinations, enrolment_changes, enrolments, referrals

# One bound array, not one parameter per member: a roster of 40,000 members stays one query
# (asyncpg allows at most 32,767 parameters).
_MEMBERS = bindparam("members", type_=ARRAY(Text))

_ATTRIBUTING = coverage_spans.alias("attributing")
_SUPERSEDING = coverage_spans.alias("superseding")


def attributed_to(audience: Audience, member_id: ColumnElement[str]) -> ColumnElement[bool]:
    """The SQL condition "the member is one `audience` may see" (see `access`): a span of the
    member in effect (no span supersedes it) names the caller's organization."""
    if audience.org is None:
        return true()
    return exists().where(
        _ATTRIBUTING.c.member_id == member_id,
        _ATTRIBUTING.c[audience.column] == audience.org,
        ~exists().where(_SUPERSEDING.c.supersedes_span_id == _ATTRIBUTING.c.span_id),
    )


# Every span of the members asked about: an index scan on member_id, one query however many.
HISTORIES = select(coverage_spans).where(coverage_spans.c.member_id == any_(_MEMBERS))

# A whole roster's spans travel as one JSON document (see hearth_platform.db.json_rows).
_INSERT_SPANS = text(
    """INSERT INTO eligibility.coverage_spans (span_id, member_id, plan_id, line_of_business, market,
           aco_id, provider_org_id, start_date, end_date, recorded_at, supersedes_span_id)
       SELECT span_id, member_id, plan_id, line_of_business, market,
           aco_id, provider_org_id, start_date, end_date, recorded_at, supersedes_span_id
       FROM jsonb_to_recordset(CAST(:rows AS jsonb)) AS r(span_id text, member_id text, plan_id text,
           line_of_business text, market text, aco_id text, provider_org_id text, start_date date,
           end_date date, recorded_at timestamptz, supersedes_span_id text)"""
)

# Advisory locks taken in key order, so two imports sharing members never deadlock.
_LOCK_MEMBERS = text(
    """SELECT count(pg_advisory_xact_lock(k))
       FROM (SELECT DISTINCT k FROM unnest(CAST(:keys AS bigint[])) AS k ORDER BY k) AS ordered"""
)


# The coverage check, the hot read path, as ONE indexed query (member_id index, then the unique
# supersedes_span_id index for the anti-join): the span covering the day among those recorded by
# `known_at` that no span recorded by then supersedes. The same rule as CoverageHistory.in_force;
# current spans never overlap, so at most one row qualifies. $4/$5 restrict it to members the
# caller sees (`attributed_to`, written out here for the raw driver; $4 NULL for the plan).
_COVERAGE_ON = """
    SELECT s.span_id, s.member_id, s.plan_id, s.line_of_business, s.market, s.aco_id,
           s.provider_org_id, s.start_date, s.end_date, s.recorded_at, s.supersedes_span_id
    FROM eligibility.coverage_spans AS s
    WHERE s.member_id = $1 AND s.start_date <= $2 AND (s.end_date IS NULL OR s.end_date >= $2)
      AND ($3::timestamptz IS NULL OR s.recorded_at <= $3)
      AND NOT EXISTS (
          SELECT 1 FROM eligibility.coverage_spans AS n
          WHERE n.supersedes_span_id = s.span_id AND ($3::timestamptz IS NULL OR n.recorded_at <= $3))
      AND ($4::text IS NULL OR EXISTS (
          SELECT 1 FROM eligibility.coverage_spans AS a
          WHERE a.member_id = $1
            AND CASE $5::text WHEN 'aco_id' THEN a.aco_id ELSE a.provider_org_id END = $4
            AND NOT EXISTS (SELECT 1 FROM eligibility.coverage_spans AS x WHERE x.supersedes_span_id = a.span_id)))
    ORDER BY s.recorded_at DESC
    LIMIT 1"""


async def coverage_in_force(
    conn: AsyncConnection,
    member_id: str,
    on: date,
    known_at: datetime | None,
    audience: Audience = EVERYONE,
) -> dict[str, Any] | None:
    """The span in force on `on` as known at `known_at`, if `audience` sees the member, straight
    from the driver: no transaction (a single SELECT needs none, so no BEGIN/ROLLBACK round trips)
    and no ORM rows."""
    raw = await conn.get_raw_connection()
    row = await raw.driver_connection.fetchrow(  # type: ignore[union-attr]
        _COVERAGE_ON, member_id, on, known_at, audience.org, audience.column
    )
    return dict(row) if row is not None else None


def _lock_key(member_id: str) -> int:
    return zlib.crc32(f"eligibility.coverage:{member_id}".encode())


def _span(row: Any) -> CoverageSpan:
    return CoverageSpan(
        span_id=row.span_id,
        member_id=row.member_id,
        plan_id=row.plan_id,
        line_of_business=row.line_of_business,
        market=row.market,
        aco_id=row.aco_id,
        provider_org_id=row.provider_org_id,
        start_date=row.start_date,
        end_date=row.end_date,
        recorded_at=row.recorded_at,
        supersedes_span_id=row.supersedes_span_id,
    )


def _enrolment(row: Any) -> Enrolment:
    return Enrolment(**{c: getattr(row, c) for c in enrolments.c.keys()})


def _jsonable(detail: dict[str, Any]) -> dict[str, Any]:
    return {k: v.isoformat() if hasattr(v, "isoformat") else v for k, v in detail.items()}


class CoverageRepository:
    def __init__(self, conn: AsyncConnection) -> None:
        self.conn = conn

    async def lock_member(self, member_id: str) -> None:
        """Serialize coverage changes of one member (the overlap check reads, then inserts)."""
        await self.conn.execute(select(func.pg_advisory_xact_lock(_lock_key(member_id))))

    async def lock_members(self, member_ids: Collection[str]) -> None:
        """`lock_member` for a whole file's members, in one round trip."""
        await self.conn.execute(_LOCK_MEMBERS, {"keys": sorted({_lock_key(m) for m in member_ids})})

    async def histories(
        self, member_ids: Collection[str], audience: Audience = EVERYONE
    ) -> dict[str, CoverageHistory]:
        """Each member's history; empty for a member `audience` may not see, as for one unknown."""
        query = HISTORIES.where(attributed_to(audience, coverage_spans.c.member_id))
        rows = await self.conn.execute(query, {"members": list(member_ids)})
        spans: dict[str, list[CoverageSpan]] = defaultdict(list)
        for row in rows:
            spans[row.member_id].append(_span(row))
        return {m: CoverageHistory.of(m, spans.get(m, [])) for m in member_ids}

    async def attributed(self, member_ids: Collection[str], audience: Audience) -> set[str]:
        """The members among `member_ids` that `audience` sees."""
        query = (
            select(coverage_spans.c.member_id)
            .distinct()
            .where(
                coverage_spans.c.member_id == any_(_MEMBERS),
                attributed_to(audience, coverage_spans.c.member_id),
            )
        )
        return {r.member_id for r in await self.conn.execute(query, {"members": list(member_ids)})}

    async def history(self, member_id: str, audience: Audience = EVERYONE) -> CoverageHistory:
        return (await self.histories([member_id], audience))[member_id]

    async def add(self, span: CoverageSpan) -> None:
        await self.conn.execute(
            insert(coverage_spans).values(
                span_id=span.span_id,
                member_id=span.member_id,
                plan_id=span.plan_id,
                line_of_business=span.line_of_business,
                market=span.market,
                aco_id=span.aco_id,
                provider_org_id=span.provider_org_id,
                start_date=span.start_date,
                end_date=span.end_date,
                recorded_at=span.recorded_at,
                supersedes_span_id=span.supersedes_span_id,
            )
        )

    async def add_many(self, spans: Iterable[CoverageSpan]) -> int:
        rows = [
            {
                "span_id": s.span_id,
                "member_id": s.member_id,
                "plan_id": s.plan_id,
                "line_of_business": s.line_of_business,
                "market": s.market,
                "aco_id": s.aco_id,
                "provider_org_id": s.provider_org_id,
                "start_date": s.start_date.isoformat(),
                "end_date": s.end_date.isoformat() if s.end_date else None,
                "recorded_at": s.recorded_at.isoformat(),
                "supersedes_span_id": s.supersedes_span_id,
            }
            for s in spans
        ]
        if rows:
            await self.conn.execute(_INSERT_SPANS, {"rows": json_rows(rows)})
        return len(rows)


class ReferralRecords:
    def __init__(self, conn: AsyncConnection) -> None:
        self.conn = conn

    async def members_of(self, referral_ids: Collection[str]) -> dict[str, str]:
        """referral_id -> member_id for the referrals already recorded."""
        rows = await self.conn.execute(
            select(referrals.c.referral_id, referrals.c.member_id).where(
                referrals.c.referral_id.in_(list(referral_ids))
            )
        )
        return {r.referral_id: r.member_id for r in rows}

    async def add_new(self, rows: list[dict[str, Any]]) -> set[str]:
        """Insert the referrals not recorded yet; returns the ids actually inserted."""
        if not rows:
            return set()
        stmt = pg_insert(referrals).on_conflict_do_nothing().returning(referrals.c.referral_id)
        return {r.referral_id for r in await self.conn.execute(stmt, rows)}


class DeterminationRepository:
    def __init__(self, conn: AsyncConnection) -> None:
        self.conn = conn

    async def decided_assessments(self, assessment_ids: Collection[str]) -> set[str]:
        rows = await self.conn.execute(
            select(determinations.c.assessment_id).where(
                determinations.c.assessment_id.in_(list(assessment_ids))
            )
        )
        return {r.assessment_id for r in rows}

    async def add(self, items: Iterable[Determination]) -> None:
        rows = [
            {
                "determination_id": d.determination_id,
                "member_id": d.member_id,
                "referral_id": d.referral_id,
                "assessment_id": d.assessment_id,
                "stage": d.stage,
                "eligible": d.eligible,
                "outcome": d.outcome,
                "as_of": d.as_of,
                "reasons": d.reasons,
                "criteria_version": d.criteria_version,
                "span_id": d.span.span_id if d.span else None,
                "plan_id": d.span.plan_id if d.span else None,
                "line_of_business": d.span.line_of_business if d.span else None,
                "provider_org_id": d.provider_org_id,
                "explanation": d.explanation,
                "determined_at": d.determined_at,
            }
            for d in items
        ]
        if rows:
            await self.conn.execute(insert(determinations), rows)

    async def for_member(self, member_id: str, audience: Audience = EVERYONE) -> list[dict[str, Any]]:
        rows = await self.conn.execute(
            select(determinations)
            .where(determinations.c.member_id == member_id)
            .where(attributed_to(audience, determinations.c.member_id))
            .order_by(determinations.c.determined_at, determinations.c.determination_id)
        )
        return [dict(r._mapping) for r in rows]


class EnrolmentRepository:
    def __init__(self, conn: AsyncConnection) -> None:
        self.conn = conn

    async def latest_for(
        self, member_ids: Collection[str], *, for_update: bool = False, audience: Audience = EVERYONE
    ) -> dict[str, Enrolment]:
        """Each member's most recent enrolment (open or ended) that `audience` sees, locked when
        asked."""
        query = select(enrolments).where(
            enrolments.c.member_id.in_(list(member_ids)), attributed_to(audience, enrolments.c.member_id)
        )
        if for_update:
            query = query.with_for_update()
        latest: dict[str, Enrolment] = {}
        for row in await self.conn.execute(query):
            current = latest.get(row.member_id)
            if current is None or (row.enrolled_at, row.effective_date) > (
                current.enrolled_at,
                current.effective_date,
            ):
                latest[row.member_id] = _enrolment(row)
        return latest

    async def latest(
        self, member_id: str, *, for_update: bool = False, audience: Audience = EVERYONE
    ) -> Enrolment | None:
        return (await self.latest_for([member_id], for_update=for_update, audience=audience)).get(member_id)

    async def add_all(self, items: list[Enrolment], recorded_at: datetime) -> None:
        if items:
            await self.conn.execute(
                insert(enrolments), [{c: getattr(e, c) for c in enrolments.c.keys()} for e in items]
            )
            await self._save_changes(items, recorded_at)

    async def save_all(self, items: list[Enrolment], recorded_at: datetime) -> None:
        for e in items:
            await self.conn.execute(
                update(enrolments)
                .where(enrolments.c.enrollment_id == e.enrollment_id)
                .values(
                    tier=e.tier,
                    tier_effective_date=e.tier_effective_date,
                    ended_on=e.ended_on,
                    end_reason=e.end_reason,
                )
            )
        await self._save_changes(items, recorded_at)

    async def _save_changes(self, items: list[Enrolment], recorded_at: datetime) -> None:
        rows = [
            {
                "enrollment_id": e.enrollment_id,
                "kind": change["kind"],
                "effective_date": change["effective_date"],
                "detail": _jsonable({k: v for k, v in change.items() if k not in ("kind", "effective_date")}),
                "recorded_at": recorded_at,
            }
            for e in items
            for change in e.changes
        ]
        if rows:
            await self.conn.execute(insert(enrolment_changes), rows)
        for e in items:
            e.changes.clear()

    async def changes(self, enrollment_id: str) -> list[dict[str, Any]]:
        rows = await self.conn.execute(
            select(enrolment_changes)
            .where(enrolment_changes.c.enrollment_id == enrollment_id)
            .order_by(enrolment_changes.c.id)
        )
        return [
            {"kind": r.kind, "effective_date": r.effective_date, "recorded_at": r.recorded_at, **r.detail}
            for r in rows
        ]
