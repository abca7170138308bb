"""The SQL of the month close: set-based, so a million member-months never pass through Python.

The rules it implements are written in plain Python in `close.py`; the integration tests check
that both agree.
"""

from datetime import date
from decimal import Decimal

from sqlalchemy import insert, select, text
from sqlalchemy.ext.asyncio import AsyncConnection

from .close import ASSESSMENT_FEE, ClosedMonth, IssuedInvoice
from .close_adjustments import CloseAdjustments
from .close_incentives import add_incentives
from .dme_repository import add_dme_lines, mark_dme_invoiced
from .late_changes import CLOSE_LOCK
from .periods import Month
from .pricing_sql import price_month
from .repository import advisory_lock
from .tables import invoices, metadata, months

S = metadata.schema
# Sorting and hashing a million member-months in memory rather than on disk.
CLOSE_WORK_MEM = "256MB"

# Months before the one being closed that have ledger activity (a span overlapping them or a fee
# dated in them) and are not closed.
_EARLIER_OPEN_MONTHS = text(f"""
WITH earliest AS (
    SELECT LEAST((SELECT min(start_date) FROM "{S}".enrolment_spans),
                 (SELECT min(service_date) FROM "{S}".assessment_fees)) AS day
)
SELECT to_char(m, 'YYYY-MM') AS month
FROM earliest,
     generate_series(date_trunc('month', earliest.day::timestamp),
                     CAST(:first AS date)::timestamp - interval '1 month',
                     interval '1 month') AS m
WHERE to_char(m, 'YYYY-MM') NOT IN (SELECT month FROM "{S}".months)
  AND (EXISTS (SELECT 1 FROM "{S}".enrolment_spans s
               WHERE s.start_date < m + interval '1 month' AND (s.end_date IS NULL OR s.end_date >= m))
       OR EXISTS (SELECT 1 FROM "{S}".assessment_fees f
                  WHERE f.service_date >= m AND f.service_date < m + interval '1 month'))
ORDER BY m
""")

# The close builds its lines in one temporary table (dropped at commit): the month's PMPM lines by
# the proration rules (pricing_sql.py), then every fee accrued up to the month's end and not
# invoiced yet; adjustments, withholds and earn-backs are added by close_adjustments.py,
# incentives by close_incentives.py and pass-through DME by dme_repository.py.
CLOSE_LINES = "close_lines"
_FEES = text(f"""
INSERT INTO {CLOSE_LINES}
SELECT f.provider_org_id, f.member_id, '{ASSESSMENT_FEE}', NULL, f.service_date,
       CAST(1 AS numeric(12, 6)), f.amount, round(1 * f.amount, 2),
       f.contract_id, f.contract_version, f.source_event_ids, f.assessment_id, NULL, NULL, NULL, false
FROM "{S}".assessment_fees f
WHERE f.invoice_id IS NULL AND f.service_date <= CAST(:last AS date)
""")

_UNPRICED = text("""
SELECT member_id, provider_org_id, tier, service_date, count(*) OVER () AS total
FROM close_lines WHERE unit_amount IS NULL OR amount IS NULL
ORDER BY member_id LIMIT 5
""")

_ORG_TOTALS = text("""
SELECT provider_org_id, sum(amount) AS total_amount, count(*) AS line_count,
       count(*) FILTER (WHERE counts_member_month) AS member_months
FROM close_lines GROUP BY provider_org_id ORDER BY provider_org_id
""")

_WRITE_LINES = text(f"""
INSERT INTO "{S}".invoice_lines
    (invoice_id, member_id, kind, tier, service_date, quantity, unit_amount, amount,
     contract_id, contract_version, source_event_ids, adjusted_month, reason, detail)
SELECT i.invoice_id, l.member_id, l.kind, l.tier, l.service_date, l.quantity, l.unit_amount,
       l.amount, l.contract_id, l.contract_version, l.source_event_ids, l.adjusted_month,
       l.reason, l.detail
FROM close_lines l
JOIN "{S}".invoices i ON i.month = :month AND i.provider_org_id = l.provider_org_id
""")

_MARK_FEES_INVOICED = text(f"""
UPDATE "{S}".assessment_fees f SET invoice_id = i.invoice_id
FROM close_lines l
JOIN "{S}".invoices i ON i.month = :month AND i.provider_org_id = l.provider_org_id
WHERE l.assessment_id IS NOT NULL AND f.assessment_id = l.assessment_id
""")


class CloseRepository:
    """The month close in SQL. Call in one transaction: `lock`, `closed`, `earlier_open_months`,
    `build_lines`, `unpriced`, `org_totals`, `issue`."""

    def __init__(self, conn: AsyncConnection) -> None:
        self.conn = conn

    async def lock(self) -> None:
        await advisory_lock(self.conn, CLOSE_LOCK)

    async def closed(self, month: Month) -> ClosedMonth | None:
        row = (await self.conn.execute(select(months).where(months.c.month == str(month)))).first()
        if row is None:
            return None
        issued = await self.conn.execute(
            select(invoices).where(invoices.c.month == str(month)).order_by(invoices.c.provider_org_id)
        )
        return ClosedMonth(
            month=row.month,
            closed_at=row.closed_at,
            invoices=tuple(
                IssuedInvoice(i.invoice_id, i.provider_org_id, i.total_amount, i.line_count) for i in issued
            ),
            member_months=row.member_months,
            created=False,
        )

    async def earlier_open_months(self, month: Month) -> list[str]:
        rows = await self.conn.execute(_EARLIER_OPEN_MONTHS, {"first": month.first_day})
        return [r.month for r in rows]

    async def build_lines(self, month: Month) -> None:
        """The month's PMPM lines and fees, then adjustments for late changes to closed months,
        then the withholds of the invoices (on PMPM and adjustments), earn-backs and incentives,
        then the approved pass-through DME not billed yet."""
        await self.conn.execute(text(f"SET LOCAL work_mem = '{CLOSE_WORK_MEM}'"))
        # The price list is a few dozen rows the planner cannot count inside a CTE; a merge join
        # would sort the million segments to meet it, where a hash of the prices reads them once.
        await self.conn.execute(text("SET LOCAL enable_mergejoin = off"))
        await price_month(self.conn, month, CLOSE_LINES, late_members_only=False)
        await self.conn.execute(_FEES, {"last": month.last_day})
        adjustments = CloseAdjustments(self.conn)
        await adjustments.add_late_change_adjustments(month)
        await adjustments.add_withholds(month)
        await adjustments.add_earn_backs(month)
        await add_incentives(self.conn, month)
        await add_dme_lines(self.conn, month)

    async def unpriced(self) -> tuple[int, list[tuple[str, str, str, date]]]:
        rows = (await self.conn.execute(_UNPRICED)).all()
        count = rows[0].total if rows else 0
        return count, [(r.member_id, r.provider_org_id, r.tier, r.service_date) for r in rows]

    async def org_totals(self) -> list[tuple[str, Decimal, int, int]]:
        rows = await self.conn.execute(_ORG_TOTALS)
        return [(r.provider_org_id, r.total_amount, r.line_count, r.member_months) for r in rows]

    async def issue(self, closed: ClosedMonth) -> None:
        """Write the month, its invoices and their lines, and mark the billed fees invoiced."""
        await self.conn.execute(
            insert(months).values(
                month=closed.month,
                closed_at=closed.closed_at,
                total_amount=closed.total_amount,
                member_months=closed.member_months,
                invoice_count=len(closed.invoices),
            )
        )
        if not closed.invoices:
            return
        await self.conn.execute(
            insert(invoices),
            [
                {
                    "invoice_id": i.invoice_id,
                    "month": closed.month,
                    "provider_org_id": i.provider_org_id,
                    "total_amount": i.total_amount,
                    "line_count": i.line_count,
                    "issued_at": closed.closed_at,
                }
                for i in closed.invoices
            ],
        )
        await self.conn.execute(_WRITE_LINES, {"month": closed.month})
        await self.conn.execute(_MARK_FEES_INVOICED, {"month": closed.month})
        await CloseAdjustments(self.conn).mark_applied(closed.month)
        await mark_dme_invoiced(self.conn, closed.month)
