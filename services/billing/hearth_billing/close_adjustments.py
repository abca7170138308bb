"""The lines a close adds beyond the month's own PMPM and fees, in set-based SQL:

- Adjustments. A closed invoice is never rewritten. Enrolment changes whose effective date fell
  in a closed month were recorded in `late_changes`; the next close recomputes every closed month
  from the earliest one each change touched, for those members only, from the current spans and
  contracts (the same rules, pricing_sql.py), compares with what was billed for the member and
  month (PMPM lines plus earlier adjustments), and posts the difference per organization and tier:
  a reversal where less is due (a retroactive disenrolment: -400.00), a correction where more is
  (a late enrolment), both for a late tier change (-400.00 moderate, +600.00 high). Each line names
  the month it adjusts, the reasons (`late_enrolment`, `late_tier_change`, `retro_disenrolment`,
  joined by "+" when several) and the events behind them. Cost: the touched members' spans are
  priced once per closed month since the earliest late change, and the lines invoiced since that
  month are read to find what was billed: the lines written (adjustments, and PMPM of closes
  before PMPM groups) and the touched members' PMPM lines as their close priced them
  (member_lines_sql.py).
- DME reversals. A pass-through DME line billed on a closed invoice for a day the member, after a
  late change (a retroactive disenrolment), is no longer enrolled with that organization is
  reversed once, in full, by a `dme_adjustment` line of the next close: the closed month it
  adjusts, the late change's reasons and events, and the DME request in its detail. It is posted in
  `AdjustmentPosted` with the member's PMPM adjustments of that month, and, like the DME line it
  reverses, it is not withheld.
- Withholds. Per invoice and contract version with a `withhold_percent`, one negative line:
  the percentage of the invoice's PMPM and adjustment lines of that contract, rounded half-up to
  cents (an adjustment that reverses PMPM also reverses its withhold).
- Earn-backs. A score (PerformanceScored) for a period that ended before the month being closed
  is applied once: per contract version that withheld from the organization in the period, the
  share of the highest earn-back target the score's rate meets, times what was withheld, as a line
  naming the score, measure, rate and rule. A score that is not reported (below the measure's
  minimum denominator) or meets no target earns nothing: its line shows 0.00 and why. Scores for
  measures the contract has no earn-back for are marked applied without a line.
"""

from dataclasses import dataclass
from decimal import Decimal

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from .member_lines_sql import invoiced_member_lines, member_line_parameters
from .periods import Month
from .pricing_sql import LATE_MEMBERS, price_members
from .tables import metadata

S = metadata.schema
ADJUSTMENT = "adjustment"
DME_ADJUSTMENT = "dme_adjustment"
WITHHOLD = "withhold"
EARN_BACK = "earn_back"

_PENDING = text(f"""
CREATE TEMPORARY TABLE close_late_changes ON COMMIT DROP AS
SELECT change_id, member_id, from_month, reason, event_id
FROM "{S}".late_changes WHERE posted_month IS NULL;
""")
_LATE_MEMBERS = text(f"""
CREATE TEMPORARY TABLE {LATE_MEMBERS} ON COMMIT DROP AS
SELECT DISTINCT member_id FROM close_late_changes
""")
_CLOSED_MONTHS = text(f"""
SELECT month FROM "{S}".months
WHERE month >= (SELECT min(from_month) FROM close_late_changes) AND month < :month
ORDER BY month
""")
_EXPECTED = text("""
CREATE TEMPORARY TABLE close_expected
    (member_id text, provider_org_id text, tier text, adjusted_month text, amount numeric,
     contract_id text, contract_version integer) ON COMMIT DROP
""")
_BILLED = text("""
CREATE TEMPORARY TABLE close_billed_pmpm
    (member_id text, provider_org_id text, tier text, adjusted_month text, amount numeric,
     contract_id text, contract_version integer) ON COMMIT DROP
""")
# What the close of a month priced for the late members, read back from its PMPM groups.
_ADD_BILLED = text(f"""
INSERT INTO close_billed_pmpm
SELECT l.member_id, l.provider_org_id, l.tier, :month, l.amount, l.contract_id, l.contract_version
FROM ({invoiced_member_lines(member_filter=f"AND s.member_id IN (SELECT member_id FROM {LATE_MEMBERS})")}) AS l
""")
_ADD_EXPECTED = text("""
INSERT INTO close_expected
SELECT member_id, provider_org_id, tier, :adjusted, amount, contract_id, contract_version
FROM close_past_lines
""")
_ADJUSTMENT_LINES = text(f"""
WITH expected AS (
    SELECT member_id, provider_org_id, tier, adjusted_month, sum(amount) AS amount,
           max(contract_id) AS contract_id, max(contract_version) AS contract_version
    FROM close_expected GROUP BY 1, 2, 3, 4
), billed AS (
    SELECT member_id, provider_org_id, tier, adjusted_month, sum(amount) AS amount,
           max(contract_id) AS contract_id, max(contract_version) AS contract_version
    FROM (SELECT l.member_id, i.provider_org_id, l.tier, COALESCE(l.adjusted_month, i.month) AS adjusted_month,
                 l.amount, l.contract_id, l.contract_version
          FROM "{S}".invoices i
          JOIN "{S}".invoice_lines l
            ON l.line_id BETWEEN i.first_line_id AND i.last_line_id AND l.invoice_id = i.invoice_id
          WHERE i.month >= (SELECT min(from_month) FROM close_late_changes)
            AND l.kind IN ('pmpm', '{ADJUSTMENT}')
            AND l.member_id IN (SELECT member_id FROM {LATE_MEMBERS})
          UNION ALL
          SELECT * FROM close_billed_pmpm) AS l
    GROUP BY 1, 2, 3, 4
)
INSERT INTO close_lines
    (provider_org_id, member_id, kind, tier, service_date, quantity, unit_amount, amount,
     contract_id, contract_version, source_event_ids, adjusted_month, reason, counts_member_month)
SELECT provider_org_id, member_id, '{ADJUSTMENT}', tier,
       (to_date(adjusted_month || '-01', 'YYYY-MM-DD') + interval '1 month' - interval '1 day')::date,
       1, d.diff, d.diff, COALESCE(e.contract_id, b.contract_id),
       COALESCE(e.contract_version, b.contract_version), c.event_ids, adjusted_month, c.reasons, false
FROM expected e
FULL JOIN billed b USING (member_id, provider_org_id, tier, adjusted_month)
CROSS JOIN LATERAL (SELECT COALESCE(e.amount, 0) - COALESCE(b.amount, 0) AS diff) AS d
JOIN LATERAL (
    SELECT array_agg(DISTINCT lc.event_id ORDER BY lc.event_id) AS event_ids,
           string_agg(DISTINCT lc.reason, '+' ORDER BY lc.reason) AS reasons
    FROM close_late_changes lc
    WHERE lc.member_id = COALESCE(e.member_id, b.member_id)
      AND lc.from_month <= COALESCE(e.adjusted_month, b.adjusted_month)
) AS c ON c.event_ids IS NOT NULL
WHERE d.diff IS DISTINCT FROM 0
""")
_DME_REVERSALS = text(f"""
INSERT INTO close_lines
    (provider_org_id, member_id, kind, tier, service_date, quantity, unit_amount, amount,
     contract_id, contract_version, source_event_ids, adjusted_month, reason, detail, counts_member_month)
SELECT i.provider_org_id, l.member_id, '{DME_ADJUSTMENT}', NULL, l.service_date, 1, -l.amount, -l.amount,
       l.contract_id, l.contract_version, c.event_ids, i.month, c.reasons, l.detail, false
FROM "{S}".invoices i
JOIN "{S}".invoice_lines l ON l.line_id BETWEEN i.first_line_id AND i.last_line_id AND l.invoice_id = i.invoice_id AND l.kind = 'dme'
JOIN LATERAL (
    SELECT array_agg(DISTINCT lc.event_id ORDER BY lc.event_id) AS event_ids,
           string_agg(DISTINCT lc.reason, '+' ORDER BY lc.reason) AS reasons
    FROM close_late_changes lc
    WHERE lc.member_id = l.member_id AND lc.from_month <= to_char(l.service_date, 'YYYY-MM')
) AS c ON c.event_ids IS NOT NULL
WHERE i.month >= (SELECT min(from_month) FROM close_late_changes)
  AND l.member_id IN (SELECT member_id FROM {LATE_MEMBERS})
  AND NOT EXISTS (SELECT 1 FROM "{S}".enrolment_spans s
                  WHERE s.member_id = l.member_id AND s.provider_org_id = i.provider_org_id
                    AND s.start_date <= l.service_date
                    AND (s.end_date IS NULL OR s.end_date >= l.service_date))
  AND NOT EXISTS (SELECT 1 FROM "{S}".invoices ri
                  JOIN "{S}".invoice_lines r ON r.line_id BETWEEN ri.first_line_id AND ri.last_line_id AND r.invoice_id = ri.invoice_id
                  WHERE ri.month > i.month AND r.kind = '{DME_ADJUSTMENT}' AND r.member_id = l.member_id
                    AND r.detail ->> 'dme_request_id' = l.detail ->> 'dme_request_id')
""")
_WITHHOLDS = text(f"""
INSERT INTO close_lines
    (provider_org_id, member_id, kind, tier, service_date, quantity, unit_amount, amount,
     contract_id, contract_version, source_event_ids, reason, detail, counts_member_month)
SELECT b.provider_org_id, NULL, '{WITHHOLD}', NULL, CAST(:last AS date), c.withhold_percent / 100,
       -sum(b.amount), round(-sum(b.amount) * c.withhold_percent / 100, 2),
       b.contract_id, b.contract_version, ARRAY[]::text[], 'quality_withhold',
       jsonb_build_object('withhold_percent', c.withhold_percent::text, 'base', sum(b.amount)::text),
       false
FROM (SELECT provider_org_id, contract_id, contract_version, amount FROM close_pmpm_totals WHERE lines > 0
      UNION ALL
      SELECT provider_org_id, contract_id, contract_version, amount FROM close_lines
      WHERE kind = '{ADJUSTMENT}') AS b
JOIN "{S}".contracts c ON c.contract_id = b.contract_id AND c.version = b.contract_version
WHERE c.withhold_percent > 0
GROUP BY b.provider_org_id, b.contract_id, b.contract_version, c.withhold_percent
""")
_SCORES = text(f"""
CREATE TEMPORARY TABLE close_scores ON COMMIT DROP AS
SELECT * FROM "{S}".performance_scores WHERE applied_month IS NULL AND last_month < :month
""")
_EARN_BACKS = text(f"""
INSERT INTO close_lines
    (provider_org_id, member_id, kind, tier, service_date, quantity, unit_amount, amount,
     contract_id, contract_version, source_event_ids, reason, detail, counts_member_month)
SELECT sc.provider_org_id, NULL, '{EARN_BACK}', NULL, CAST(:last AS date), COALESCE(t.share, 0),
       w.withheld, round(w.withheld * COALESCE(t.share, 0), 2), w.contract_id, w.contract_version,
       ARRAY[sc.event_id], r.rule,
       jsonb_build_object('score_id', sc.score_id, 'measure_id', sc.measure_id,
                          'measure_version', sc.measure_version, 'period', sc.period,
                          'rate', sc.rate::text, 'numerator', sc.numerator,
                          'denominator', sc.denominator, 'reported', sc.reported,
                          'target_rate', t.target_rate::text, 'share', t.share::text, 'rule', r.rule),
       false
FROM close_scores sc
JOIN LATERAL (
    SELECT l.contract_id, l.contract_version, -sum(l.amount) AS withheld
    FROM "{S}".invoices i
    JOIN "{S}".invoice_lines l ON l.line_id BETWEEN i.first_line_id AND i.last_line_id AND l.invoice_id = i.invoice_id AND l.kind = '{WITHHOLD}'
    WHERE i.provider_org_id = sc.provider_org_id AND i.month BETWEEN sc.first_month AND sc.last_month
    GROUP BY l.contract_id, l.contract_version
) AS w ON EXISTS (SELECT 1 FROM "{S}".contract_earn_back e
                  WHERE e.contract_id = w.contract_id AND e.version = w.contract_version
                    AND e.measure_id = sc.measure_id)
LEFT JOIN LATERAL (
    SELECT e.target_rate, e.share FROM "{S}".contract_earn_back e
    WHERE e.contract_id = w.contract_id AND e.version = w.contract_version
      AND e.measure_id = sc.measure_id AND sc.reported AND sc.rate >= e.target_rate
    ORDER BY e.target_rate DESC LIMIT 1
) AS t ON true
CROSS JOIN LATERAL (
    SELECT CASE
        WHEN NOT sc.reported THEN sc.measure_id || ' not reported: earns nothing'
        WHEN t.target_rate IS NULL THEN sc.measure_id || ' rate ' || sc.rate::text
                                        || ' below every target: earns nothing'
        ELSE sc.measure_id || ' rate ' || sc.rate::text || ' >= ' || t.target_rate::text
             || ' earns ' || t.share::text || ' of the withhold'
    END AS rule
) AS r
""")
_ADJUSTMENTS_POSTED = text(f"""
SELECT a.member_id, a.provider_org_id, a.adjusted_month, a.amount, a.reason, e.event_ids
FROM (SELECT member_id, provider_org_id, adjusted_month, sum(amount) AS amount,
             string_agg(DISTINCT reason, '+') AS reason
      FROM close_lines WHERE kind IN ('{ADJUSTMENT}', '{DME_ADJUSTMENT}')
      GROUP BY member_id, provider_org_id, adjusted_month) AS a
CROSS JOIN LATERAL (
    SELECT array_agg(DISTINCT event_id ORDER BY event_id) AS event_ids
    FROM close_lines l, unnest(l.source_event_ids) AS event_id
    WHERE l.kind IN ('{ADJUSTMENT}', '{DME_ADJUSTMENT}') AND l.member_id = a.member_id
      AND l.provider_org_id = a.provider_org_id AND l.adjusted_month = a.adjusted_month
) AS e
ORDER BY a.member_id, a.adjusted_month, a.provider_org_id
""")
_MARK_CHANGES_POSTED = text(f"""
UPDATE "{S}".late_changes SET posted_month = :month
WHERE change_id IN (SELECT change_id FROM close_late_changes)
""")
_MARK_SCORES_APPLIED = text(f"""
UPDATE "{S}".performance_scores p SET applied_month = :month
FROM close_scores sc
WHERE p.provider_org_id = sc.provider_org_id AND p.measure_id = sc.measure_id AND p.period = sc.period
""")


@dataclass(frozen=True)
class MemberAdjustment:
    """What one member's adjustment of one closed month nets to, for `AdjustmentPosted`."""

    member_id: str
    provider_org_id: str
    adjusted_month: str
    amount: Decimal
    reason: str
    cause_event_ids: tuple[str, ...]


class CloseAdjustments:
    def __init__(self, conn: AsyncConnection) -> None:
        self.conn = conn

    async def add_late_change_adjustments(self, month: Month) -> None:
        await self.conn.execute(_PENDING)
        await self.conn.execute(_LATE_MEMBERS)
        await self.conn.execute(_EXPECTED)
        await self.conn.execute(_BILLED)
        closed = [r.month for r in await self.conn.execute(_CLOSED_MONTHS, {"month": str(month)})]
        for adjusted in closed:
            await price_members(self.conn, Month.parse(adjusted), "close_past_lines")
            await self.conn.execute(_ADD_EXPECTED, {"adjusted": adjusted})
            if (billed := await member_line_parameters(self.conn, adjusted)) is not None:
                await self.conn.execute(_ADD_BILLED, billed)
        if closed:
            await self.conn.execute(_ADJUSTMENT_LINES)
            await self.conn.execute(_DME_REVERSALS)

    async def add_withholds(self, month: Month) -> None:
        await self.conn.execute(_WITHHOLDS, {"last": month.last_day})

    async def add_earn_backs(self, month: Month) -> None:
        await self.conn.execute(_SCORES, {"month": str(month)})
        await self.conn.execute(_EARN_BACKS, {"last": month.last_day})

    async def posted(self) -> list[MemberAdjustment]:
        return [
            MemberAdjustment(
                r.member_id, r.provider_org_id, r.adjusted_month, r.amount, r.reason, tuple(r.event_ids)
            )
            for r in await self.conn.execute(_ADJUSTMENTS_POSTED)
        ]

    async def mark_applied(self, month: str) -> None:
        await self.conn.execute(_MARK_CHANGES_POSTED, {"month": month})
        await self.conn.execute(_MARK_SCORES_APPLIED, {"month": month})
