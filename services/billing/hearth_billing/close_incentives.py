"""Performance incentives at close, in set-based SQL.

A score (PerformanceScored) for a period that ended before the month being closed is applied
once, by the same close that applies its earn-back (close_adjustments.py reads the pending scores
into `close_scores` and marks them applied). The contract that pays the incentive is the version
the organization's PMPM was billed under in the period's latest invoiced month (so a period that
spans a new contract version pays once, by the newer terms), if it has incentive targets for the
score's measure. The highest target the score's rate meets pays:

- `amount`: that fixed amount (quantity 1);
- `percent`: that percent of the PMPM lines billed to the organization on the invoices of the
  period's months (quantity percent / 100, unit amount the PMPM base), rounded half-up to cents.

The line names the score, the measure, its rate and the rule; a score that is not reported or
meets no target pays nothing, and its 0.00 line says why.
"""

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from .periods import Month
from .tables import metadata

S = metadata.schema
INCENTIVE = "incentive"

# The PMPM billed per invoice and contract version: lines written (closes before PMPM groups) and
# each group's members times its line (pricing_sql.py), the same sums without a member read back.
_PMPM_BILLED = f"""
SELECT l.invoice_id, l.contract_id, l.contract_version, l.amount
FROM "{S}".invoices i
JOIN "{S}".invoice_lines l
  ON l.line_id BETWEEN i.first_line_id AND i.last_line_id AND l.invoice_id = i.invoice_id AND l.kind = 'pmpm'
UNION ALL
SELECT invoice_id, contract_id, contract_version, members * amount FROM "{S}".invoice_pmpm_groups
"""

_INCENTIVES = text(f"""
WITH pmpm_billed AS NOT MATERIALIZED ({_PMPM_BILLED})
INSERT INTO close_lines
    (provider_org_id, member_id, kind, tier, service_date, quantity, unit_amount, amount,
     contract_id, contract_version, source_event_ids, reason, detail, counts_member_month)
SELECT sc.provider_org_id, NULL, '{INCENTIVE}', NULL, CAST(:last AS date), q.quantity, q.unit,
       round(q.quantity * q.unit, 2), k.contract_id, k.contract_version, ARRAY[sc.event_id], r.rule,
       jsonb_build_object('score_id', sc.score_id, 'measure_id', sc.measure_id,
                          'measure_version', sc.measure_version, 'period', sc.period,
                          'rate', sc.rate::text, 'numerator', sc.numerator,
                          'denominator', sc.denominator, 'reported', sc.reported,
                          'target_rate', t.target_rate::text, 'amount', t.amount::text,
                          'percent', t.percent::text, 'pmpm_base', b.paid::text, 'rule', r.rule),
       false
FROM close_scores sc
JOIN LATERAL (
    SELECT v.contract_id, v.contract_version
    FROM (SELECT DISTINCT i.month, l.contract_id, l.contract_version
          FROM "{S}".invoices i
          JOIN pmpm_billed l ON l.invoice_id = i.invoice_id
          WHERE i.provider_org_id = sc.provider_org_id
            AND i.month BETWEEN sc.first_month AND sc.last_month) AS v
    WHERE EXISTS (SELECT 1 FROM "{S}".contract_incentives e
                  WHERE e.contract_id = v.contract_id AND e.version = v.contract_version
                    AND e.measure_id = sc.measure_id)
    ORDER BY v.month DESC, v.contract_version DESC
    LIMIT 1
) AS k ON true
CROSS JOIN LATERAL (
    SELECT COALESCE(sum(l.amount), 0) AS paid
    FROM "{S}".invoices i
    JOIN pmpm_billed l ON l.invoice_id = i.invoice_id
    WHERE i.provider_org_id = sc.provider_org_id AND i.month BETWEEN sc.first_month AND sc.last_month
) AS b
LEFT JOIN LATERAL (
    SELECT e.target_rate, e.amount, e.percent FROM "{S}".contract_incentives e
    WHERE e.contract_id = k.contract_id AND e.version = k.contract_version
      AND e.measure_id = sc.measure_id AND sc.reported AND sc.rate >= e.target_rate
    ORDER BY e.target_rate DESC LIMIT 1
) AS t ON true
CROSS JOIN LATERAL (
    SELECT CASE WHEN t.target_rate IS NULL THEN 0
                WHEN t.percent IS NULL THEN 1
                ELSE t.percent / 100 END::numeric(12, 6) AS quantity,
           CASE WHEN t.target_rate IS NULL THEN 0
                WHEN t.percent IS NULL THEN t.amount
                ELSE b.paid END AS unit
) AS q
CROSS JOIN LATERAL (
    SELECT CASE
        WHEN NOT sc.reported THEN sc.measure_id || ' not reported: no incentive'
        WHEN t.target_rate IS NULL THEN sc.measure_id || ' rate ' || sc.rate::text
                                        || ' below every incentive target: no incentive'
        WHEN t.percent IS NULL THEN sc.measure_id || ' rate ' || sc.rate::text || ' >= '
                                    || t.target_rate::text || ' pays ' || t.amount::text
        ELSE sc.measure_id || ' rate ' || sc.rate::text || ' >= ' || t.target_rate::text
             || ' pays ' || t.percent::text || '% of the period''s PMPM ' || b.paid::text
    END AS rule
) AS r
""")


async def add_incentives(conn: AsyncConnection, month: Month) -> None:
    """Add the incentive lines of the pending scores (`close_scores`) to `close_lines`."""
    await conn.execute(_INCENTIVES, {"last": month.last_day})
