"""The SQL of the month close: set-based, so a million member-months never pass through Python
(nor, priced by group, through a per-member write: pricing_sql.py).

The rules it implements are written in plain Python in `close.py`; the integration tests check
that both agree.
"""

import uuid
from collections.abc import Mapping
from datetime import date
from decimal import Decimal

from sqlalchemy import insert, select, text
from sqlalchemy.ext.asyncio import AsyncConnection

from hearth_platform.db import json_rows

from .close import ASSESSMENT_FEE, ClosedMonth, IssuedInvoice
from .close_adjustments import CloseAdjustments
from .close_incentives import add_incentives
from .dme_repository import add_dme_lines, mark_dme_invoiced
from .late_changes import CLOSE_LOCK
from .periods import Month
from .pricing_sql import LINE_COLUMNS, month_organizations, price_month_groups, unpriced_examples
from .repository import advisory_lock
from .tables import invoices, metadata, months

S = metadata.schema
# A million priced member-months held once in memory (to be written and summed) rather than on disk.
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

# The close prices the month's PMPM by group (pricing_sql.py) and gathers the few other lines in a
# temporary table (dropped at commit): every fee accrued up to the month's end
# and not invoiced yet; adjustments, withholds and earn-backs (close_adjustments.py), incentives
# (close_incentives.py) and pass-through DME (dme_repository.py).
CLOSE_LINES = "close_lines"
_CREATE_LINES = text(f"CREATE TEMPORARY TABLE {CLOSE_LINES} ({LINE_COLUMNS}) ON COMMIT DROP")
_FEES = text(f"""
INSERT INTO {CLOSE_LINES}
SELECT f.provider_org_id, f.member_id, '{ASSESSMENT_FEE}', NULL, f.service_date,
       CAST(1 AS numeric(12, 6)), f.amount, round(1 * f.amount, 2),
       f.contract_id, f.contract_version, f.source_event_ids, f.assessment_id, NULL, f.reason, NULL, false
FROM "{S}".assessment_fees f
WHERE f.invoice_id IS NULL AND f.service_date <= CAST(:last AS date)
""")

_UNPRICED = text("SELECT COALESCE(sum(unpriced), 0) AS unpriced FROM close_pmpm_totals")

# Per organization: the PMPM sums of the month and the other lines.
_ORG_TOTALS = text(f"""
SELECT provider_org_id, sum(amount) AS total_amount, sum(lines) AS line_count,
       sum(member_months) AS member_months
FROM (SELECT provider_org_id, amount, lines, member_months FROM close_pmpm_totals WHERE lines > 0
      UNION ALL
      SELECT provider_org_id, sum(amount), count(*), 0 FROM {CLOSE_LINES} GROUP BY provider_org_id) AS t
GROUP BY provider_org_id ORDER BY provider_org_id
""")
_LINE_ORGANIZATIONS = text(f"SELECT DISTINCT provider_org_id FROM {CLOSE_LINES}")

_WRITE_LINES = text(f"""
INSERT INTO "{S}".invoice_lines
    (invoice_id, member_id, kind, tier, service_date, quantity, unit_amount, amount,
     contract_id, contract_version, source_event_ids, adjusted_month, reason, detail)
SELECT i.invoice_id, l.member_id, l.kind, l.tier, l.service_date, l.quantity, l.unit_amount,
       l.amount, l.contract_id, l.contract_version, l.source_event_ids, l.adjusted_month,
       l.reason, l.detail
FROM {CLOSE_LINES} l
JOIN jsonb_to_recordset(CAST(:ids AS jsonb)) AS i(org text, invoice_id text) ON i.org = l.provider_org_id
""")
_WRITE_GROUPS = text(f"""
INSERT INTO "{S}".invoice_pmpm_groups
    (invoice_id, provider_org_id, line_of_business, tier, seg_start, seg_end, member_last, month_days,
     earlier_span, members, service_date, quantity, unit_amount, amount, contract_id, contract_version,
     counts_member_month)
SELECT i.invoice_id, g.provider_org_id, g.line_of_business, g.tier, g.seg_start, g.seg_end, g.member_last,
       g.month_days, g.earlier_span, g.members, g.service_date, g.quantity, g.unit_amount, g.amount,
       g.contract_id, g.contract_version, g.counts_member_month
FROM close_pmpm_groups g
JOIN jsonb_to_recordset(CAST(:ids AS jsonb)) AS i(org text, invoice_id text) ON i.org = g.provider_org_id
WHERE g.amount IS NOT NULL
""")
_NEXT_CLOSE_NUMBER = text(f'SELECT COALESCE(max(close_number), 0) + 1 FROM "{S}".months')
# A line id taken before the close writes its lines and one after: the close holds the close lock
# and only closes write lines, so every line of its invoices lies between the two.
_LINE_ID = text(f"SELECT nextval(pg_get_serial_sequence('{S}.invoice_lines', 'line_id'))")

_MARK_FEES_INVOICED = text(f"""
UPDATE "{S}".assessment_fees f SET invoice_id = i.invoice_id
FROM close_lines l
JOIN "{S}".invoices i ON i.month = :month AND i.provider_org_id = l.provider_org_id
WHERE l.assessment_id IS NOT NULL AND f.assessment_id = l.assessment_id
""")


class CloseRepository:
    """The month close in SQL. Call in one transaction: `lock`, `closed`, `earlier_open_months`,
    `build_lines`, `price_pmpm`, `invoice_ids`, `unpriced`, `add_withholds`, `org_totals`, `issue`."""

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
        """The month's fees, adjustments for late changes to closed months, earn-backs, incentives
        and the approved pass-through DME not billed yet (all but PMPM lines and withholds)."""
        await self.conn.execute(text(f"SET LOCAL work_mem = '{CLOSE_WORK_MEM}'"))
        # The price list is a few hundred rows; a merge join would sort the million segments to
        # meet it, where a hash of the prices reads them once.
        await self.conn.execute(text("SET LOCAL enable_mergejoin = off"))
        await self.conn.execute(_CREATE_LINES)
        await self.conn.execute(_FEES, {"last": month.last_day})
        adjustments = CloseAdjustments(self.conn)
        await adjustments.add_late_change_adjustments(month)
        await adjustments.add_earn_backs(month)
        await add_incentives(self.conn, month)
        await add_dme_lines(self.conn, month)

    async def invoice_ids(self, recorded: Mapping[str, str]) -> dict[str, str]:
        """An invoice id for every organization that may be invoiced (a span in the month, or
        another line): the recorded one where a rebuild repeats a close, else a new uuid."""
        organizations = set(await month_organizations(self.conn))
        organizations |= {r.provider_org_id for r in await self.conn.execute(_LINE_ORGANIZATIONS)}
        return {org: recorded.get(org) or str(uuid.uuid4()) for org in sorted(organizations)}

    async def price_pmpm(self, month: Month) -> None:
        """The month's PMPM, priced by group, and its sums per organization and contract."""
        await price_month_groups(self.conn, month)

    async def unpriced(self, month: Month) -> tuple[int, list[tuple[str, str, str, date]]]:
        count = int((await self.conn.execute(_UNPRICED)).scalar_one())
        return count, (await unpriced_examples(self.conn, month) if count else [])

    async def add_withholds(self, month: Month) -> None:
        await CloseAdjustments(self.conn).add_withholds(month)

    async def org_totals(self) -> list[tuple[str, Decimal, int, int]]:
        rows = await self.conn.execute(_ORG_TOTALS)
        return [(r.provider_org_id, r.total_amount, int(r.line_count), int(r.member_months)) for r in rows]

    async def first_line_id(self) -> int:
        """Take a line id before any line of the close is written (the range's lower bound)."""
        return int((await self.conn.execute(_LINE_ID)).scalar_one())

    async def issue(self, closed: ClosedMonth, first_line_id: int) -> None:
        """Write the month with its close number, the invoices with the range of their line ids,
        their PMPM groups and other lines, and mark the billed fees, late changes, scores and DME
        invoiced."""
        close_number = (await self.conn.execute(_NEXT_CLOSE_NUMBER)).scalar_one()
        await self.conn.execute(
            insert(months).values(
                month=closed.month,
                closed_at=closed.closed_at,
                total_amount=closed.total_amount,
                member_months=closed.member_months,
                invoice_count=len(closed.invoices),
                close_number=close_number,
            )
        )
        if not closed.invoices:
            return
        ids = [{"org": i.provider_org_id, "invoice_id": i.invoice_id} for i in closed.invoices]
        await self.conn.execute(_WRITE_LINES, {"ids": json_rows(ids)})
        last_line_id = int((await self.conn.execute(_LINE_ID)).scalar_one())
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
                    "first_line_id": first_line_id,
                    "last_line_id": last_line_id,
                }
                for i in closed.invoices
            ],
        )
        await self.conn.execute(_WRITE_GROUPS, {"ids": json_rows(ids)})
        await self.conn.execute(_MARK_FEES_INVOICED, {"month": closed.month})
        await CloseAdjustments(self.conn).mark_applied(closed.month)
        await mark_dme_invoiced(self.conn, closed.month)
