"""All SQL of the eligibility service. Loads take sets of members or ids, so a handler reads a
whole Kafka batch's state in a few queries."""

import zlib
from collections import defaultdict
from collections.abc import Collection, Iterable, Sequence
from datetime import date, datetime
from typing import Any

from sqlalchemy import ColumnElement, Text, any_, bindparam, exists, func, insert, select, text, true
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
# `IN (SELECT unnest(...))` rather than `= ANY(...)`: a hash join, not a scan of a 100,000-element
# array per row, when a whole 834 is asked about.
_MEMBER_SET = select(func.unnest(_MEMBERS)).scalar_subquery()
HISTORIES = select(coverage_spans).where(coverage_spans.c.member_id.in_(_MEMBER_SET))

_SPAN_COLUMNS = [c.name for c in coverage_spans.columns]

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

_UPDATE_ENROLMENTS = text(
    """UPDATE eligibility.enrolments AS e
       SET tier = r.tier, tier_effective_date = r.tier_effective_date, ended_on = r.ended_on,
           end_reason = r.end_reason
       FROM jsonb_to_recordset(CAST(:rows AS jsonb)) AS r(enrollment_id text, tier text,
           tier_effective_date date, ended_on date, end_reason text)
       WHERE e.enrollment_id = r.enrollment_id"""
)

# Advisory locks taken in key order, so two imports sharing members never deadlock.
_LOCK_MEMBERS = text(
    """SELECT pg_advisory_xact_lock_shared(:registry),
              (SELECT count(pg_advisory_xact_lock(k))
               FROM (SELECT DISTINCT k FROM unnest(CAST(:keys AS bigint[])) AS k ORDER BY k) AS ordered)"""
)
MEMBER_LOCKS_MAX = 2_000


# The coverage check, the hot read path: a whole batch of questions (member, day, as known at,
# the caller's organization) in ONE statement, each an indexed lateral lookup (member_id index,
# then the unique supersedes_span_id index for the anti-join): the span covering the day among
# those recorded by `known_at` that no span recorded by then supersedes. The same rule as
# CoverageHistory.in_force; current spans never overlap, so at most one row qualifies. `org`
# restricts it to members the caller sees (`attributed_to`, written out for the raw driver;
# NULL for the plan). Answers come back by question number.
_COVERAGE_ON = """
    SELECT q.i, s.span_id, s.member_id, s.plan_id, s.line_of_business, s.market, s.aco_id,
           s.provider_org_id, s.start_date, s.end_date, s.recorded_at, s.supersedes_span_id
    FROM unnest($1::text[], $2::date[], $3::timestamptz[], $4::text[], $5::text[])
         WITH ORDINALITY AS q(member_id, on_day, known_at, org, org_column, i)
    CROSS JOIN LATERAL (
        SELECT s.*
        FROM eligibility.coverage_spans AS s
        WHERE s.member_id = q.member_id AND s.start_date <= q.on_day
          AND (s.end_date IS NULL OR s.end_date >= q.on_day)
          AND (q.known_at IS NULL OR s.recorded_at <= q.known_at)
          AND NOT EXISTS (
              SELECT 1 FROM eligibility.coverage_spans AS n
              WHERE n.supersedes_span_id = s.span_id AND (q.known_at IS NULL OR n.recorded_at <= q.known_at))
          AND (q.org IS NULL OR EXISTS (
              SELECT 1 FROM eligibility.coverage_spans AS a
              WHERE a.member_id = q.member_id
                AND CASE q.org_column WHEN 'aco_id' THEN a.aco_id ELSE a.provider_org_id END = q.org
                AND NOT EXISTS (
                    SELECT 1 FROM eligibility.coverage_spans AS x WHERE x.supersedes_span_id = a.span_id)))
        ORDER BY s.recorded_at DESC
        LIMIT 1) AS s"""


async def coverage_in_force(
    conn: AsyncConnection,
    questions: Sequence[tuple[str, date, datetime | None, Audience]],
) -> list[dict[str, Any] | None]:
    """For each (member, day, known_at, audience): the span in force on the day as known then,
    if the audience sees the member. One statement for the batch, prepared once per connection
    by the driver, rows straight from the driver (no ORM rows)."""
    raw = await conn.get_raw_connection()
    rows = await raw.driver_connection.fetch(  # type: ignore[union-attr]
        _COVERAGE_ON,
        [q[0] for q in questions],
        [q[1] for q in questions],
        [q[2] for q in questions],
        [q[3].org for q in questions],
        [q[3].column for q in questions],
    )
    answers: list[dict[str, Any] | None] = [None] * len(questions)
    for row in rows:
        answer = dict(row)
        answers[answer.pop("i") - 1] = answer
    return answers


def _lock_key(member_id: str) -> int:
    return zlib.crc32(f"eligibility.coverage:{member_id}".encode())


# Outside crc32's range, so no member's key can collide with it.
_REGISTRY_KEY = -1


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
        await self.lock_members([member_id])

    async def lock_members(self, member_ids: Collection[str]) -> None:
        """`lock_member` for a whole file's members, in one round trip. Every writer holds the
        registry-wide key shared and its members' keys; a file of more than
        `MEMBER_LOCKS_MAX` members holds the registry-wide key alone, exclusive, instead: Postgres
        keeps every lock in a shared table of a few thousand slots, and 100,000 member locks
        would exhaust it."""
        if len(member_ids) > MEMBER_LOCKS_MAX:
            await self.conn.execute(select(func.pg_advisory_xact_lock(_REGISTRY_KEY)))
            return
        keys = sorted({_lock_key(m) for m in member_ids})
        await self.conn.execute(_LOCK_MEMBERS, {"registry": _REGISTRY_KEY, "keys": keys})

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

    async def copy_many(self, spans: Sequence[CoverageSpan]) -> int:
        """`add_many` for a big file: COPY on the same connection, so in the same transaction
        (the spans are planned and checked already; COPY is Postgres's fastest way in)."""
        if spans:
            raw = await self.conn.get_raw_connection()
            await raw.driver_connection.copy_records_to_table(  # type: ignore[union-attr]
                "coverage_spans",
                schema_name="eligibility",
                columns=_SPAN_COLUMNS,
                records=[
                    (
                        s.span_id,
                        s.member_id,
                        s.plan_id,
                        s.line_of_business,
                        s.market,
                        s.aco_id,
                        s.provider_org_id,
                        s.start_date,
                        s.end_date,
                        s.recorded_at,
                        s.supersedes_span_id,
                    )
                    for s in spans
                ],
            )
        return len(spans)

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

    async def open_for(self, member_ids: Collection[str]) -> list[Enrolment]:
        """The open enrolments of `member_ids`, locked; one bound array however many members."""
        query = (
            select(enrolments)
            .where(enrolments.c.member_id.in_(_MEMBER_SET), enrolments.c.ended_on.is_(None))
            .with_for_update()
        )
        return [_enrolment(row) for row in await self.conn.execute(query, {"members": list(member_ids)})]

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
        """Write back tier and end of many enrolments in one statement."""
        rows = [
            {
                "enrollment_id": e.enrollment_id,
                "tier": e.tier,
                "tier_effective_date": e.tier_effective_date.isoformat(),
                "ended_on": e.ended_on.isoformat() if e.ended_on else None,
                "end_reason": e.end_reason,
            }
            for e in items
        ]
        if rows:
            await self.conn.execute(_UPDATE_ENROLMENTS, {"rows": json_rows(rows)})
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
