"""The members' PMPM lines of issued invoices, read back from what their close saw.

A close stores its PMPM as priced groups (`invoice_pmpm_groups`, pricing_sql.py) and the close's
number on its month. The spans that close saw are the current spans written before it
(`closes_before` below its number) and the replaced ones it saw (`enrolment_span_history`, kept by
repository.py whenever a change replaces a span a close saw). Clipping those spans to the month
and joining each segment to its group by the key gives every member's line as the close priced it,
with the events of its span, however the member's spans changed since: a closed invoice is never
rewritten, and it is not copied either.

Invoices closed before groups existed keep their PMPM lines in `invoice_lines`, read as they are.
"""

from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from .periods import Month
from .pricing_sql import key_join, parameters, segment_rows
from .tables import metadata

S = metadata.schema
_SPAN_COLUMNS = "member_id, provider_org_id, line_of_business, tier, start_date, end_date, prev_end, next_start, source_event_ids"
# The spans close number :close saw.
SPANS_SEEN = f"""(
    SELECT {_SPAN_COLUMNS} FROM "{S}".enrolment_spans WHERE closes_before < :close
    UNION ALL
    SELECT {_SPAN_COLUMNS} FROM "{S}".enrolment_span_history
    WHERE closes_before < :close AND closes_through >= :close
)"""


def invoiced_member_lines(invoice_filter: str = "", member_filter: str = "") -> str:
    """The PMPM member lines of the invoices of month :month (closed by close number :close), of
    the invoices and members the filters keep (SQL on the invoice `i` and the span `s`; a member
    filter keeps all of a member's spans or none, as the key sums a member's days)."""
    return f"""
SELECT g.invoice_id, g.provider_org_id, r.member_id, g.tier, g.service_date, g.quantity, g.unit_amount,
       g.amount, g.contract_id, g.contract_version, r.source_event_ids
FROM ({segment_rows(SPANS_SEEN, member_filter)}) AS r
JOIN "{S}".invoice_pmpm_groups g ON {key_join("g", "r")}
WHERE g.invoice_id IN (SELECT i.invoice_id FROM "{S}".invoices i WHERE i.month = :month {invoice_filter})
"""


_CLOSE_NUMBER = text(f'SELECT close_number FROM "{S}".months WHERE month = :month')
_HAS_GROUPS = text(f"""
SELECT EXISTS (SELECT 1 FROM "{S}".invoice_pmpm_groups g JOIN "{S}".invoices i USING (invoice_id)
               WHERE i.month = :month)
""")


async def member_line_parameters(conn: AsyncConnection, month: str) -> dict[str, Any] | None:
    """The parameters `invoiced_member_lines` needs for a closed month, or None when its invoices
    have no PMPM groups (not closed, or closed with its lines in invoice_lines)."""
    close = (await conn.execute(_CLOSE_NUMBER, {"month": month})).scalar()
    if close is None or not (await conn.execute(_HAS_GROUPS, {"month": month})).scalar():
        return None
    return {**parameters(Month.parse(month)), "month": month, "close": close}


async def invoice_member_lines(conn: AsyncConnection, invoice_id: str, month: str) -> list[Any]:
    """The PMPM member lines of one invoice."""
    params = await member_line_parameters(conn, month)
    if params is None:
        return []
    # every member's segments are read (not the organization's only): a member's days in the month
    # count across organizations, and the groups keep the invoice's own
    query = invoiced_member_lines("AND i.invoice_id = :invoice_id")
    return list(await conn.execute(text(query), {**params, "invoice_id": invoice_id}))
