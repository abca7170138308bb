"""The proration rules of `proration.py` as set-based SQL: a month's enrolment spans become priced
PMPM lines in a temporary table (dropped at commit), without a row passing through Python.

Used twice by a close: for the month being closed (every member) and, for adjustments, for each
closed month a late change touched (only the members it touched, listed in `close_late_members`).
"""

from sqlalchemy import TextClause, text
from sqlalchemy.ext.asyncio import AsyncConnection

from .periods import Month
from .tables import metadata

S = metadata.schema
PMPM = "pmpm"
LATE_MEMBERS = "close_late_members"


def _priced_lines(table: str, member_filter: str) -> TextClause:
    """One statement from spans to priced lines, so the month's segments live only in memory (a
    materialized CTE in work_mem) instead of being written to and read back from temporary tables:

    - segments: one row per span overlapping the month, clipped to it, with the member's last
      segment marked and the member's enrolled days in the month (one sort serves both windows);
    - prices: the contract in force on each segment's last day, the most specific first, with its
      rule parameters and its rates for the tier; resolved once per distinct (organization, line of
      business, day, tier), so the planner hashes a small price list instead of sorting segments;
    - lines: the segments each rule pays (see the table in proration.py), rounded half-up to cents
      per line (round() on numeric rounds ties away from zero). A segment without a contract is
      kept, unpriced, where full_month would pay it, so the close can refuse it by name.

    The table has the columns of the close's lines (close_repository.py), so the close adds fees,
    adjustments, withholds and earn-backs to it without copying a million rows."""
    return text(f"""
CREATE TEMPORARY TABLE {table} ON COMMIT DROP AS
WITH segments AS MATERIALIZED (
    SELECT g.*,
           row_number() OVER (PARTITION BY g.member_id ORDER BY g.seg_end DESC) = 1 AS member_last,
           sum(g.seg_end - g.seg_start + 1) OVER (PARTITION BY g.member_id) AS month_days
    FROM (
        SELECT s.member_id, s.provider_org_id, s.tier, COALESCE(s.line_of_business, '*') AS lob,
               GREATEST(s.start_date, CAST(:first AS date)) AS seg_start,
               LEAST(COALESCE(s.end_date, CAST(:last AS date)), CAST(:last AS date)) AS seg_end,
               s.source_event_ids
        FROM "{S}".enrolment_spans s
        WHERE s.start_date <= CAST(:last AS date)
          AND (s.end_date IS NULL OR s.end_date >= CAST(:first AS date))
          {member_filter}
    ) AS g
), prices AS MATERIALIZED (
    SELECT k.provider_org_id, k.lob, k.seg_end, k.tier, c.contract_id, c.version, c.proration,
           c.attribution_day, c.threshold_days, c.short_later_month, r.pmpm, r.partial_pmpm
    FROM (SELECT DISTINCT provider_org_id, lob, seg_end, tier FROM segments) AS k
    LEFT JOIN LATERAL (
        SELECT c.contract_id, c.version, c.proration, c.attribution_day, c.threshold_days,
               c.short_later_month
        FROM "{S}".contracts c
        WHERE c.effective_from <= k.seg_end
          AND (c.effective_to IS NULL OR c.effective_to >= k.seg_end)
          AND c.provider_org_id IN (k.provider_org_id, '*')
          AND c.line_of_business IN (k.lob, '*')
        ORDER BY c.provider_org_id = '*', c.line_of_business = '*'
        LIMIT 1
    ) AS c ON true
    LEFT JOIN "{S}".contract_rates r
           ON r.contract_id = c.contract_id AND r.version = c.version AND r.tier = k.tier
)
SELECT g.provider_org_id, g.member_id, '{PMPM}'::text AS kind, g.tier,
       CASE WHEN p.proration = 'attributed_on_day' THEN d.day ELSE g.seg_end END AS service_date,
       CASE WHEN p.proration = 'daily' THEN round(d.days::numeric / :dim, 6)
            ELSE 1 END::numeric(12, 6) AS quantity,
       u.unit AS unit_amount,
       CASE WHEN p.proration = 'daily' THEN round(u.unit * d.days / :dim, 2)
            ELSE round(u.unit, 2) END AS amount,
       p.contract_id, p.version AS contract_version, g.source_event_ids,
       NULL::text AS assessment_id, NULL::text AS adjusted_month, NULL::text AS reason,
       NULL::jsonb AS detail,
       -- a daily member-month is paid in several lines; its last segment counts it once
       p.proration IS DISTINCT FROM 'daily' OR g.member_last AS counts_member_month
FROM segments g
JOIN prices p
  ON p.provider_org_id = g.provider_org_id AND p.lob = g.lob AND p.seg_end = g.seg_end
 AND p.tier = g.tier
CROSS JOIN LATERAL (SELECT g.seg_end - g.seg_start + 1 AS days,
                           CAST(:first AS date) + (LEAST(p.attribution_day, :dim) - 1) AS day) AS d
CROSS JOIN LATERAL (
    SELECT CASE
        WHEN p.proration = 'day_threshold' AND g.month_days < p.threshold_days
             AND (p.short_later_month = 'partial'
                  OR NOT EXISTS (SELECT 1 FROM "{S}".enrolment_spans f
                                 WHERE f.member_id = g.member_id
                                   AND f.start_date < CAST(:first AS date)))
        THEN p.partial_pmpm
        ELSE p.pmpm END AS unit
) AS u
WHERE CASE p.proration
        WHEN 'daily' THEN true
        WHEN 'attributed_on_day' THEN d.day BETWEEN g.seg_start AND g.seg_end
        ELSE g.member_last END
""")


async def price_month(conn: AsyncConnection, month: Month, table: str, *, late_members_only: bool) -> str:
    """Create the temporary `table` with the month's priced PMPM lines; returns its name."""
    member_filter = f"AND s.member_id IN (SELECT member_id FROM {LATE_MEMBERS})" if late_members_only else ""
    await conn.execute(text(f"DROP TABLE IF EXISTS {table}"))
    await conn.execute(
        _priced_lines(table, member_filter),
        {"first": month.first_day, "last": month.last_day, "dim": month.last_day.day},
    )
    return table
