"""The proration rules of `proration.py` as set-based SQL, over groups of member-months.

A month's spans are clipped to it (segments) and each segment gets the key its price depends on:
organization, line of business, tier, the segment's first and last day in the month, whether it is
the member's last segment of the month, the member's enrolled days in the month, and whether the
member had a span before the month. Members with the same key are priced alike, so a close prices
groups, not members: one parallel pass over the spans groups a million member-months into a few
hundred groups, which are priced and stored with the invoice (`invoice_pmpm_groups`); a member's
line is its segment joined back to its group by the key (member_lines_sql.py). `next_start` and
`prev_end` (the member's neighbouring spans, written with the timeline) tell from the row itself
whether a member has other segments in the month; only those few members are summed per member.

The price of a group is the contract in force for its organization and line of business on the
segment's last day, the most specific first, with its rule parameters and its rate for the tier:
a table of a few hundred rows (contract scopes x days of the month x tiers) resolved from the
contracts alone. A group's scope is its organization if some contract names it, else "*" (and the
same for the line of business), so a contract for another organization never prices it. A group
without a contract is kept, unpriced, where full_month would pay it, so the close can refuse it by
name. Lines are rounded half-up to cents per line (round() on numeric rounds ties away from zero);
a group's total is its members times that line.
"""

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

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

# What a member-month's price depends on: a group of members priced alike.
KEY = (
    "provider_org_id",
    "line_of_business",
    "tier",
    "seg_start",
    "seg_end",
    "member_last",
    "month_days",
    "earlier_span",
)
KEY_COLUMNS = ", ".join(KEY)

_FIRST, _LAST = "CAST(:first AS date)", "CAST(:last AS date)"
# A span `s` clipped to the month, with the parts of the key read from the row itself.
_SEGMENT = f"""s.provider_org_id, COALESCE(s.line_of_business, '') AS line_of_business, s.tier,
       GREATEST(s.start_date, {_FIRST}) AS seg_start,
       LEAST(COALESCE(s.end_date, {_LAST}), {_LAST}) AS seg_end,
       s.next_start IS NULL OR s.next_start > {_LAST} AS member_last,
       s.start_date < {_FIRST} OR COALESCE(s.prev_end < {_FIRST}, false) AS earlier_span"""
# The member has another segment in the month (before or after this one).
_SHARES_MONTH = f"COALESCE(s.prev_end >= {_FIRST} OR s.next_start <= {_LAST}, false)"
_IN_MONTH = f"s.start_date <= {_LAST} AND (s.end_date IS NULL OR s.end_date >= {_FIRST})"


def key_join(a: str, b: str) -> str:
    return " AND ".join(f"{a}.{k} = {b}.{k}" for k in KEY)


def segment_rows(source: str, member_filter: str = "") -> str:
    """One row per span of `source` overlapping the month: the member, the span's events and its
    key. A member with several segments in the month has their days summed and whether any of them
    follows an earlier span (the first of them tells; later ones start after it)."""
    return f"""
WITH seg AS (
    SELECT s.member_id, s.source_event_ids, {_SEGMENT}, {_SHARES_MONTH} AS shares_month
    FROM {source} s
    WHERE {_IN_MONTH} {member_filter}
), shared AS (
    SELECT member_id, sum(seg_end - seg_start + 1)::integer AS month_days,
           bool_or(earlier_span) AS earlier_span
    FROM seg WHERE shares_month GROUP BY member_id
)
SELECT g.member_id, g.source_event_ids, g.provider_org_id, g.line_of_business, g.tier, g.seg_start,
       g.seg_end, g.member_last, COALESCE(m.month_days, g.seg_end - g.seg_start + 1) AS month_days,
       COALESCE(m.earlier_span, g.earlier_span) AS earlier_span
FROM seg g LEFT JOIN shared m ON m.member_id = g.member_id
"""


# The close's pass over the spans: one parallel scan and hash aggregate (no row leaves Postgres,
# none is sorted). A segment of a member with others in the month keeps its member in the key,
# so the next statement can sum those few members' days; every other segment is counted.
_MONTH_SEGMENTS = text(f"""
CREATE TEMPORARY TABLE close_segments ON COMMIT DROP AS
SELECT {_SEGMENT}, CASE WHEN {_SHARES_MONTH} THEN s.member_id END AS shared_member,
       count(*)::integer AS members
FROM "{S}".enrolment_spans s
WHERE {_IN_MONTH}
GROUP BY 1, 2, 3, 4, 5, 6, 7, 8
""")
_MONTH_GROUPS = text("""
CREATE TEMPORARY TABLE close_groups ON COMMIT DROP AS
WITH shared AS (
    SELECT shared_member, sum(seg_end - seg_start + 1)::integer AS month_days,
           bool_or(earlier_span) AS earlier_span
    FROM close_segments WHERE shared_member IS NOT NULL GROUP BY shared_member
)
SELECT g.provider_org_id, g.line_of_business, g.tier, g.seg_start, g.seg_end, g.member_last,
       COALESCE(m.month_days, g.seg_end - g.seg_start + 1) AS month_days,
       COALESCE(m.earlier_span, g.earlier_span) AS earlier_span, sum(g.members)::integer AS members
FROM close_segments g LEFT JOIN shared m ON m.shared_member = g.shared_member
GROUP BY 1, 2, 3, 4, 5, 6, 7, 8
""")


# The price list of a month: per contract scope (organization or "*", line of business or "*"),
# day and tier, the most specific contract in force that day with its rule and rates.
_PRICES = f"""
CREATE TEMPORARY TABLE close_prices ON COMMIT DROP AS
SELECT o.org_key, l.lob_key, d.day::date AS day, t.tier, c.contract_id, c.version, c.proration,
       c.attribution_day, c.threshold_days, c.short_later_month, r.pmpm, r.partial_pmpm
FROM (SELECT DISTINCT provider_org_id AS org_key FROM "{S}".contracts) AS o
CROSS JOIN (SELECT DISTINCT line_of_business AS lob_key FROM "{S}".contracts) AS l
CROSS JOIN generate_series({_FIRST}, {_LAST}, interval '1 day') AS d(day)
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


def _priced(groups: str) -> str:
    """The groups of `groups` with each member's line (amount NULL: no contract prices it); a
    group that gets no line under its rule (not the member's last segment under a monthly rule,
    outside the attribution day) is left out."""
    return f"""
SELECT g.provider_org_id, g.line_of_business, g.tier, g.seg_start, g.seg_end, g.member_last,
       g.month_days, g.earlier_span, g.members,
       CASE WHEN p.proration = 'attributed_on_day' THEN d.day ELSE g.seg_end END AS service_date,
       CASE WHEN p.proration = 'daily' THEN round(d.days::numeric / :dim, 6)
            ELSE 1 END::numeric(12, 6) AS quantity,
       u.unit AS unit_amount,
       CASE WHEN p.proration = 'daily' THEN round(u.unit * d.days / :dim, 2)
            ELSE round(u.unit, 2) END AS amount,
       p.contract_id, p.version AS contract_version,
       -- a daily member-month is paid in several lines; its last segment counts it once
       p.proration IS DISTINCT FROM 'daily' OR g.member_last AS counts_member_month
FROM {groups} g
CROSS JOIN LATERAL (
    SELECT CASE WHEN g.provider_org_id = ANY (ARRAY(SELECT provider_org_id FROM "{S}".contracts))
                THEN g.provider_org_id ELSE '*' END AS org_key,
           CASE WHEN NULLIF(g.line_of_business, '') = ANY (ARRAY(SELECT line_of_business FROM "{S}".contracts))
                THEN g.line_of_business ELSE '*' END AS lob_key
) AS k
LEFT JOIN close_prices p ON p.org_key = k.org_key AND p.lob_key = k.lob_key AND p.day = g.seg_end AND p.tier = g.tier
CROSS JOIN LATERAL (SELECT g.seg_end - g.seg_start + 1 AS days,
                           {_FIRST} + (LEAST(p.attribution_day, :dim) - 1) AS day) AS d
CROSS JOIN LATERAL (
    SELECT CASE
        WHEN p.proration = 'day_threshold' AND g.month_days < p.threshold_days
             AND (p.short_later_month = 'partial' OR NOT g.earlier_span)
        THEN p.partial_pmpm
        ELSE p.pmpm END AS unit
) AS u
WHERE CASE p.proration
        WHEN 'daily' THEN true
        WHEN 'attributed_on_day' THEN d.day BETWEEN g.seg_start AND g.seg_end
        ELSE g.member_last END
"""


def parameters(month: Month) -> dict[str, object]:
    return {"first": month.first_day, "last": month.last_day, "dim": month.last_day.day}


async def _price_list(conn: AsyncConnection, month: Month) -> None:
    await conn.execute(text("DROP TABLE IF EXISTS close_prices"))
    await conn.execute(text(_PRICES), {"first": month.first_day, "last": month.last_day})
    await conn.execute(text("ANALYZE close_prices"))


async def price_month_groups(conn: AsyncConnection, month: Month) -> None:
    """The month's PMPM of every member, priced by group: `close_pmpm_groups` (the groups with
    each member's line, unpriced ones with a NULL amount) and `close_pmpm_totals` (organization,
    contract version, amount, lines, member-months, unpriced)."""
    params = parameters(month)
    await conn.execute(_MONTH_SEGMENTS, params)
    await conn.execute(_MONTH_GROUPS)
    await _price_list(conn, month)
    await conn.execute(
        text(f"CREATE TEMPORARY TABLE close_pmpm_groups ON COMMIT DROP AS {_priced('close_groups')}"), params
    )
    await conn.execute(
        text("""
CREATE TEMPORARY TABLE close_pmpm_totals ON COMMIT DROP AS
SELECT provider_org_id, contract_id, contract_version,
       COALESCE(sum(members * amount), 0) AS amount,
       COALESCE(sum(members) FILTER (WHERE amount IS NOT NULL), 0) AS lines,
       COALESCE(sum(members) FILTER (WHERE counts_member_month AND amount IS NOT NULL), 0) AS member_months,
       COALESCE(sum(members) FILTER (WHERE amount IS NULL), 0) AS unpriced
FROM close_pmpm_groups GROUP BY provider_org_id, contract_id, contract_version
""")
    )


async def month_organizations(conn: AsyncConnection) -> list[str]:
    """The organizations with a span in the month being closed (after `price_month_groups`)."""
    return [
        r.provider_org_id
        for r in await conn.execute(text("SELECT DISTINCT provider_org_id FROM close_groups"))
    ]


async def unpriced_examples(conn: AsyncConnection, month: Month) -> list[tuple[str, str, str, object]]:
    """A few members of the unpriced groups (after `price_month_groups`), to name in the refusal."""
    rows = await conn.execute(
        text(f"""
SELECT r.member_id, r.provider_org_id, r.tier, r.seg_end AS service_date
FROM ({segment_rows(f'"{S}".enrolment_spans')}) AS r
JOIN close_pmpm_groups g ON {key_join("g", "r")} AND g.amount IS NULL
ORDER BY r.member_id LIMIT 5
"""),
        parameters(month),
    )
    return [(r.member_id, r.provider_org_id, r.tier, r.service_date) for r in rows]


async def price_members(conn: AsyncConnection, month: Month, table: str) -> str:
    """Create the temporary `table` with the month's PMPM lines, from the current spans, of the
    members listed in `close_late_members`: member_id, provider_org_id, tier, amount (NULL where
    no contract prices it), contract_id, contract_version. Returns its name."""
    params = parameters(month)
    members = f"AND s.member_id IN (SELECT member_id FROM {LATE_MEMBERS})"
    for name in (table, "close_member_rows", "close_member_groups", "close_member_priced"):
        await conn.execute(text(f"DROP TABLE IF EXISTS {name}"))
    await conn.execute(
        text(
            "CREATE TEMPORARY TABLE close_member_rows ON COMMIT DROP AS "
            + segment_rows(f'"{S}".enrolment_spans', members)
        ),
        params,
    )
    await conn.execute(
        text(
            f"CREATE TEMPORARY TABLE close_member_groups ON COMMIT DROP AS SELECT {KEY_COLUMNS}, "
            f"count(*)::integer AS members FROM close_member_rows GROUP BY {KEY_COLUMNS}"
        )
    )
    await _price_list(conn, month)
    await conn.execute(
        text(
            f"CREATE TEMPORARY TABLE close_member_priced ON COMMIT DROP AS {_priced('close_member_groups')}"
        ),
        params,
    )
    await conn.execute(
        text(f"""
CREATE TEMPORARY TABLE {table} ON COMMIT DROP AS
SELECT r.member_id, p.provider_org_id, p.tier, p.amount, p.contract_id, p.contract_version
FROM close_member_rows r JOIN close_member_priced p ON {key_join("p", "r")}
""")
    )
    return table
