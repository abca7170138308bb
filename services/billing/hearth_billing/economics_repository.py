"""The SQL of the economic evaluation: claim lines in (one statement per batch) and the report's
sums per organization (one statement over invoices, enrolment spans and claim costs, after the
window's PMPM member lines are read back from their groups, a statement per closed month)."""

from decimal import Decimal
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from hearth_platform.db import json_rows

from .economics import OrganizationTotals
from .member_lines_sql import invoiced_member_lines, member_line_parameters
from .periods import Month

_UPSERT_CLAIM_COSTS = text("""
INSERT INTO billing.claim_costs
    (claim_id, line_number, member_id, service_month, paid_amount, inpatient_days, event_id)
SELECT claim_id, line_number, member_id, service_month, paid_amount, inpatient_days, event_id
FROM jsonb_to_recordset(CAST(:rows AS jsonb))
     AS r(claim_id text, line_number integer, member_id text, service_month date, paid_amount numeric,
          inpatient_days integer, event_id text)
ON CONFLICT (claim_id, line_number) DO UPDATE SET
    member_id = excluded.member_id,
    service_month = excluded.service_month,
    paid_amount = excluded.paid_amount,
    inpatient_days = excluded.inpatient_days,
    event_id = excluded.event_id
""")

# Invoices exist only for closed months, so the window's payments are final. Lines are read by the
# invoice's line-id range (the only index invoice_lines has). A claim is dated by its first line's
# month; its stay days are the most any line carries (the lines repeat the stay's dates).
_TOTALS = text("""
WITH window_invoices AS (
    SELECT invoice_id, provider_org_id, month, first_line_id, last_line_id
    FROM billing.invoices
    WHERE month BETWEEN :from_month AND :to_month
      AND (CAST(:org AS text) IS NULL OR provider_org_id = CAST(:org AS text))
),
lines AS (
    SELECT i.provider_org_id, i.month, l.member_id, l.kind, l.amount
    FROM window_invoices i
    JOIN billing.invoice_lines l
      ON l.line_id BETWEEN i.first_line_id AND i.last_line_id AND l.invoice_id = i.invoice_id
    UNION ALL
    SELECT i.provider_org_id, i.month, p.member_id, 'pmpm', p.amount
    FROM window_invoices i JOIN economics_pmpm p ON p.invoice_id = i.invoice_id
),
paid AS (
    SELECT provider_org_id, sum(amount) AS bundled_paid FROM lines GROUP BY provider_org_id
),
enrolled AS (
    SELECT DISTINCT provider_org_id, member_id, to_date(month, 'YYYY-MM') AS month
    FROM lines WHERE kind = 'pmpm' AND member_id IS NOT NULL
),
counts AS (
    SELECT provider_org_id, count(DISTINCT member_id) AS members, count(*) AS member_months
    FROM enrolled GROUP BY provider_org_id
),
cohort AS (
    SELECT m.provider_org_id, m.member_id, date_trunc('month', min(s.start_date))::date AS enrolled_month
    FROM (SELECT DISTINCT provider_org_id, member_id FROM enrolled) m
    JOIN billing.enrolment_spans s ON s.member_id = m.member_id AND s.provider_org_id = m.provider_org_id
    GROUP BY m.provider_org_id, m.member_id
),
claims AS (
    SELECT member_id, claim_id, min(service_month) AS month, sum(paid_amount) AS paid,
           max(inpatient_days) AS days
    FROM billing.claim_costs
    WHERE member_id IN (SELECT member_id FROM cohort)
    GROUP BY member_id, claim_id
),
before AS (
    SELECT c.provider_org_id, sum(cl.paid) AS paid, sum(cl.days) AS days
    FROM cohort c
    JOIN claims cl ON cl.member_id = c.member_id
     AND cl.month >= (c.enrolled_month - make_interval(months => :months_before))::date
     AND cl.month < c.enrolled_month
    GROUP BY c.provider_org_id
),
after AS (
    SELECT e.provider_org_id, sum(cl.paid) AS paid, sum(cl.days) AS days
    FROM enrolled e JOIN claims cl ON cl.member_id = e.member_id AND cl.month = e.month
    GROUP BY e.provider_org_id
)
SELECT p.provider_org_id, coalesce(n.members, 0) AS members, coalesce(n.member_months, 0) AS member_months,
       p.bundled_paid, coalesce(b.paid, 0) AS claims_before, coalesce(b.days, 0) AS days_before,
       coalesce(a.paid, 0) AS claims_after, coalesce(a.days, 0) AS days_after
FROM paid p
LEFT JOIN counts n USING (provider_org_id)
LEFT JOIN before b USING (provider_org_id)
LEFT JOIN after a USING (provider_org_id)
ORDER BY p.provider_org_id
""")


class EconomicsRepository:
    def __init__(self, conn: AsyncConnection) -> None:
        self.conn = conn

    async def add_claim_costs(self, rows: list[dict[str, Any]]) -> None:
        if rows:
            await self.conn.execute(_UPSERT_CLAIM_COSTS, {"rows": json_rows(rows)})

    async def totals(
        self, first: Month, last: Month, months_before: int, provider_org_id: str | None
    ) -> list[OrganizationTotals]:
        await self._pmpm_member_lines(first, last, provider_org_id)
        result = await self.conn.execute(
            _TOTALS,
            {
                "from_month": str(first),
                "to_month": str(last),
                "months_before": months_before,
                "org": provider_org_id,
            },
        )
        return [
            OrganizationTotals(
                provider_org_id=r.provider_org_id,
                members=int(r.members),
                member_months=int(r.member_months),
                bundled_paid=Decimal(r.bundled_paid),
                claims_before=Decimal(r.claims_before),
                hospital_days_before=int(r.days_before),
                claims_after=Decimal(r.claims_after),
                hospital_days_after=int(r.days_after),
            )
            for r in result
        ]

    async def _pmpm_member_lines(self, first: Month, last: Month, provider_org_id: str | None) -> None:
        """The window's PMPM member lines of invoices priced by group, into `economics_pmpm`."""
        await self.conn.execute(text("DROP TABLE IF EXISTS economics_pmpm"))
        await self.conn.execute(_PMPM_TABLE)
        months = await self.conn.execute(_CLOSED_MONTHS, {"from_month": str(first), "to_month": str(last)})
        for month in [r.month for r in months]:
            if (params := await member_line_parameters(self.conn, month)) is not None:
                await self.conn.execute(_ADD_PMPM, {**params, "org": provider_org_id})


_PMPM_TABLE = text(
    "CREATE TEMPORARY TABLE economics_pmpm (invoice_id text, member_id text, amount numeric) ON COMMIT DROP"
)
_CLOSED_MONTHS = text(
    "SELECT month FROM billing.months WHERE month BETWEEN :from_month AND :to_month ORDER BY month"
)
_ADD_PMPM = text(f"""
INSERT INTO economics_pmpm
SELECT l.invoice_id, l.member_id, l.amount
FROM ({invoiced_member_lines("AND (CAST(:org AS text) IS NULL OR i.provider_org_id = CAST(:org AS text))")}) AS l
""")
