"""SQL of DME requests: the enrolment a request is decided by, the decisions, and the close's DME
lines (set-based: every approved pass-through not billed yet, in one statement)."""

from datetime import date, datetime
from typing import Any

from sqlalchemy import insert, select, text
from sqlalchemy.ext.asyncio import AsyncConnection

from .dme import DmeDecision, Enrolled
from .periods import Month
from .tables import dme_requests, enrolment_spans, metadata

S = metadata.schema
DME = "dme"

_DME_LINES = text(f"""
INSERT INTO close_lines
    (provider_org_id, member_id, kind, tier, service_date, quantity, unit_amount, amount,
     contract_id, contract_version, source_event_ids, reason, detail, counts_member_month)
SELECT d.provider_org_id, d.member_id, '{DME}', NULL, d.service_date, 1, d.billed_amount,
       d.billed_amount, d.contract_id, d.contract_version, ARRAY[]::text[], d.reason,
       jsonb_build_object('dme_request_id', d.request_id, 'hcpcs_code', d.hcpcs_code,
                          'requested_amount', d.requested_amount::text, 'cap', t.cap::text),
       false
FROM "{S}".dme_requests d
LEFT JOIN "{S}".contract_dme t
       ON t.contract_id = d.contract_id AND t.version = d.contract_version AND t.hcpcs_code = d.hcpcs_code
WHERE d.billed_amount > 0 AND d.invoice_id IS NULL AND d.service_date <= CAST(:last AS date)
""")

_MARK_INVOICED = text(f"""
UPDATE "{S}".dme_requests d SET invoice_id = i.invoice_id
FROM close_lines l
JOIN "{S}".invoices i ON i.month = :month AND i.provider_org_id = l.provider_org_id
WHERE l.kind = '{DME}' AND d.request_id = l.detail ->> 'dme_request_id'
""")


async def add_dme_lines(conn: AsyncConnection, month: Month) -> None:
    await conn.execute(_DME_LINES, {"last": month.last_day})


async def mark_dme_invoiced(conn: AsyncConnection, month: str) -> None:
    await conn.execute(_MARK_INVOICED, {"month": month})


class DmeRepository:
    def __init__(self, conn: AsyncConnection) -> None:
        self.conn = conn

    async def enrolled_on(self, member_id: str, day: date) -> Enrolled | None:
        row = (
            await self.conn.execute(
                select(enrolment_spans.c.provider_org_id, enrolment_spans.c.line_of_business)
                .where(
                    enrolment_spans.c.member_id == member_id,
                    enrolment_spans.c.start_date <= day,
                    (enrolment_spans.c.end_date.is_(None)) | (enrolment_spans.c.end_date >= day),
                )
                .order_by(enrolment_spans.c.start_date.desc())
                .limit(1)
            )
        ).first()
        return None if row is None else Enrolled(row.provider_org_id, row.line_of_business)

    async def add(
        self,
        request_id: str,
        member_id: str,
        hcpcs_code: str,
        service_date: date,
        amount: Any,
        decision: DmeDecision,
        requested_at: datetime | None = None,
    ) -> dict[str, Any]:
        """Keep a decision; `requested_at` is the recorded one when a rebuild replays it."""
        recorded = {} if requested_at is None else {"requested_at": requested_at}
        row = (
            await self.conn.execute(
                insert(dme_requests)
                .values(
                    request_id=request_id,
                    member_id=member_id,
                    provider_org_id=decision.provider_org_id,
                    hcpcs_code=hcpcs_code,
                    service_date=service_date,
                    requested_amount=amount,
                    status=decision.status,
                    handling=decision.handling,
                    reason=decision.reason,
                    billed_amount=decision.billed_amount,
                    contract_id=decision.contract_id,
                    contract_version=decision.contract_version,
                    **recorded,
                )
                .returning(dme_requests)
            )
        ).one()
        return dict(row._mapping)

    async def get(self, request_id: str) -> dict[str, Any] | None:
        row = (
            await self.conn.execute(select(dme_requests).where(dme_requests.c.request_id == request_id))
        ).first()
        return None if row is None else dict(row._mapping)

    async def for_member(self, member_id: str) -> list[dict[str, Any]]:
        rows = await self.conn.execute(
            select(dme_requests)
            .where(dme_requests.c.member_id == member_id)
            .order_by(dme_requests.c.service_date, dme_requests.c.requested_at)
        )
        return [dict(r._mapping) for r in rows]
