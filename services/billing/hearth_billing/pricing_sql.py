"""The proration rules of `proration.py` as set-based SQL: a month's enrolment spans become priced
PMPM lines without a row passing through Python.

Used twice by a close: for the month being closed, every member's lines are priced and written to
`invoice_lines` in one INSERT ... SELECT that also returns the sums the close needs (`write_month`);
for adjustments, each closed month a late change touched is priced again for the members it
touched only, into a temporary table (`price_month`).

One pass over the spans, no sort: each span overlapping the month is clipped to it (a segment),
and its row says what the rules need. `next_start` (the member's next span) tells the member's last
segment of the month; `prev_end` tells a segment that shares the month with an earlier one, and only
those few look up the member's other spans (by index) to count the month's enrolled days. The price
of a segment is the contract in force for its organization and line of business on the segment's
last day, the most specific first, with its rule parameters and its rate for the tier: a table of a
few hundred rows (contract scopes x days of the month x tiers) resolved from the contracts alone,
which every segment meets in one hash join on (scope, day, tier). A segment's scope is its
organization if some contract names it, else "*" (and the same for the line of business), so a
contract for another organization never prices it. A segment without a contract is kept, unpriced,
where full_month would pay it, so the close can refuse it by name. Lines are rounded half-up to
cents per line (round() on numeric rounds ties away from zero).
"""

from collections.abc import Mapping

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from hearth_platform.db import json_rows

from .periods import Month
from .tables import metadata

S = metadata.schema
PMPM = "pmpm"
LATE_MEMBERS = "close_late_members"
# The columns of a close's lines, in order (close_repository.py creates its table with them).
LINE_COLUMNS = """provider_org_id text, member_id text, kind text, tier text, service_date date,
    quantity numeric(12, 6), unit_amount numeric, amount numeric, contract_id text,
    contract_version integer, source_event_ids text[], assessment_id text, adjusted_month text,
    reason text, detail jsonb, counts_member_month boolean"""


# The price list of a month: per contract scope (organization or "*", line of business or "*"),
# day and tier, the most specific contract in force that day with its rule and rates. A temporary
# table, analyzed, so the planner knows it holds a few hundred rows and hashes it in memory.
_PRICES = f"""
CREATE TEMPORARY TABLE close_prices ON COMMIT DROP AS
SELECT o.org_key, l.lob_key, d.day::date AS day, t.tier, c.contract_id, c.version, c.proration,
       c.attribution_day, c.threshold_days, c.short_later_month, r.pmpm, r.partial_pmpm
FROM (SELECT DISTINCT provider_org_id AS org_key FROM "{S}".contracts) AS o
CROSS JOIN (SELECT DISTINCT line_of_business AS lob_key FROM "{S}".contracts) AS l
CROSS JOIN generate_series(CAST(:first AS date), CAST(:last AS date), interval '1 day') AS d(day)
CROSS JOIN (SELECT DISTINCT tier FROM "{S}".contract_rates) AS t
LEFT JOIN LATERAL (
    SELECT c.contract_id, c.version, c.proration, c.attribution_day, c.threshold_days,
           c.short_later_month
    FROM "{S}".contracts c
    WHERE c.effective_from <= d.day
      AND (c.effective_to IS NULL OR c.effective_to >= d.day)
      AND c.provider_org_id IN (o.org_key, '*')
      AND c.line_of_business IN (l.lob_key, '*')
    ORDER BY c.provider_org_id = '*', c.line_of_business = '*'
    LIMIT 1
) AS c ON true
LEFT JOIN "{S}".contract_rates r ON r.contract_id = c.contract_id AND r.version = c.version AND r.tier = t.tier
"""


def _priced_lines(member_filter: str) -> str:
    return f"""
WITH prices AS (SELECT * FROM close_prices), segments AS (
    SELECT s.member_id, s.provider_org_id, s.tier, s.source_event_ids,
           CASE WHEN s.provider_org_id = ANY (ARRAY(SELECT provider_org_id FROM "{S}".contracts))
                THEN s.provider_org_id ELSE '*' END AS org_key,
           CASE WHEN s.line_of_business = ANY (ARRAY(SELECT line_of_business FROM "{S}".contracts))
                THEN s.line_of_business ELSE '*' END AS lob_key,
           GREATEST(s.start_date, CAST(:first AS date)) AS seg_start,
           LEAST(COALESCE(s.end_date, CAST(:last AS date)), CAST(:last AS date)) AS seg_end,
           s.next_start IS NULL OR s.next_start > CAST(:last AS date) AS member_last,
           s.prev_end IS NOT NULL AND s.prev_end >= CAST(:first AS date) AS shares_month
    FROM "{S}".enrolment_spans s
    WHERE s.start_date <= CAST(:last AS date)
      AND (s.end_date IS NULL OR s.end_date >= CAST(:first AS date))
      {member_filter}
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
LEFT JOIN prices p ON p.org_key = g.org_key AND p.lob_key = g.lob_key AND p.day = g.seg_end AND p.tier = g.tier
CROSS JOIN LATERAL (SELECT g.seg_end - g.seg_start + 1 AS days,
                           CAST(:first AS date) + (LEAST(p.attribution_day, :dim) - 1) AS day) AS d
CROSS JOIN LATERAL (
    SELECT CASE
        WHEN p.proration = 'day_threshold'
             AND (CASE WHEN NOT g.shares_month THEN d.days
                       ELSE (SELECT sum(LEAST(COALESCE(o.end_date, CAST(:last AS date)), CAST(:last AS date))
                                        - GREATEST(o.start_date, CAST(:first AS date)) + 1)
                             FROM "{S}".enrolment_spans o
                             WHERE o.member_id = g.member_id AND o.start_date <= CAST(:last AS date)
                               AND (o.end_date IS NULL OR o.end_date >= CAST(:first AS date))) END)
                 < p.threshold_days
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
"""


def _parameters(month: Month) -> dict[str, object]:
    return {"first": month.first_day, "last": month.last_day, "dim": month.last_day.day}


async def _price_list(conn: AsyncConnection, month: Month) -> None:
    await conn.execute(text("DROP TABLE IF EXISTS close_prices"))
    await conn.execute(text(_PRICES), {"first": month.first_day, "last": month.last_day})
    await conn.execute(text("ANALYZE close_prices"))


async def price_month(conn: AsyncConnection, month: Month, table: str, *, late_members_only: bool) -> str:
    """Create the temporary `table` with the month's priced PMPM lines (of the late members only,
    listed in `close_late_members`, when `late_members_only`); returns its name."""
    member_filter = f"AND s.member_id IN (SELECT member_id FROM {LATE_MEMBERS})" if late_members_only else ""
    await _price_list(conn, month)
    await conn.execute(text(f"DROP TABLE IF EXISTS {table}"))
    await conn.execute(
        text(f"CREATE TEMPORARY TABLE {table} ON COMMIT DROP AS {_priced_lines(member_filter)}"),
        _parameters(month),
    )
    return table


_ORGANIZATIONS = text(f"""
SELECT DISTINCT provider_org_id FROM "{S}".enrolment_spans
WHERE start_date <= CAST(:last AS date) AND (end_date IS NULL OR end_date >= CAST(:first AS date))
""")

# Every priced line written straight to its invoice (the invoice ids are chosen before, per
# organization); the rows stay in memory once (a materialized CTE in work_mem) to be summed per
# organization and contract version for the invoice totals and the withholds. Unpriced lines are
# not written, only counted: a close that finds any is refused and rolled back.
_WRITE_MONTH = text(f"""
WITH priced AS MATERIALIZED ({_priced_lines("")}),
ids AS (SELECT org, invoice_id FROM jsonb_to_recordset(CAST(:ids AS jsonb)) AS i(org text, invoice_id text)),
written AS (
    INSERT INTO "{S}".invoice_lines
        (invoice_id, member_id, kind, tier, service_date, quantity, unit_amount, amount,
         contract_id, contract_version, source_event_ids)
    SELECT i.invoice_id, l.member_id, l.kind, l.tier, l.service_date, l.quantity, l.unit_amount, l.amount,
           l.contract_id, l.contract_version, l.source_event_ids
    FROM priced l JOIN ids i ON i.org = l.provider_org_id
    WHERE l.amount IS NOT NULL
)
INSERT INTO close_pmpm_totals
SELECT provider_org_id, contract_id, contract_version, COALESCE(sum(amount), 0), count(*) FILTER (WHERE amount IS NOT NULL),
       count(*) FILTER (WHERE counts_member_month AND amount IS NOT NULL), count(*) FILTER (WHERE amount IS NULL)
FROM priced GROUP BY provider_org_id, contract_id, contract_version
""")

_UNPRICED = f"""
SELECT member_id, provider_org_id, tier, service_date FROM ({_priced_lines("")}) AS l
WHERE l.amount IS NULL ORDER BY member_id LIMIT 5
"""


async def month_organizations(conn: AsyncConnection, month: Month) -> list[str]:
    """The organizations with a span in the month: each may get an invoice."""
    return [r.provider_org_id for r in await conn.execute(_ORGANIZATIONS, _parameters(month))]


async def write_month(conn: AsyncConnection, month: Month, invoice_ids: Mapping[str, str]) -> None:
    """Price the month's PMPM lines and write them to the organizations' invoices; the sums go to
    the temporary `close_pmpm_totals` (organization, contract version, amount, lines,
    member-months, unpriced)."""
    await conn.execute(
        text(
            "CREATE TEMPORARY TABLE close_pmpm_totals (provider_org_id text, contract_id text, "
            "contract_version integer, amount numeric, lines bigint, member_months bigint, unpriced bigint) "
            "ON COMMIT DROP"
        )
    )
    ids = [{"org": org, "invoice_id": invoice_id} for org, invoice_id in invoice_ids.items()]
    await _price_list(conn, month)
    await conn.execute(_WRITE_MONTH, {**_parameters(month), "ids": json_rows(ids)})


async def unpriced_examples(conn: AsyncConnection, month: Month) -> list[tuple[str, str, str, object]]:
    await _price_list(conn, month)
    rows = await conn.execute(text(_UNPRICED), _parameters(month))
    return [(r.member_id, r.provider_org_id, r.tier, r.service_date) for r in rows]
