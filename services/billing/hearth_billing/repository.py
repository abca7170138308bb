"""SQL of the billing service for contracts, the ledger and invoice reads (the month close has its
own module, close_repository.py). Handlers load and write in sets: a run of events costs a
constant number of statements, whatever its length."""

from collections.abc import Iterable, Sequence
from datetime import datetime
from decimal import Decimal
from typing import Any

import orjson
from sqlalchemy import Text, any_, bindparam, delete, insert, select, text, update
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.ext.asyncio import AsyncConnection

from .contract_terms import ContractTerms, DmeTerm, EarnBackTarget, IncentiveTarget
from .contracts import Contract, ContractBook, ContractError
from .ledger import AssessmentFee, Enrolment, PaidFee, Span
from .member_lines_sql import invoice_member_lines
from .periods import Month
from .pricing_sql import PMPM
from .tables import (
    assessment_fees,
    contract_dme,
    contract_earn_back,
    contract_incentives,
    contract_rates,
    contracts,
    enrolment_spans,
    invoice_lines,
    invoices,
    metadata,
)

S = metadata.schema
# Serializes contract loading between replicas starting together.
CONTRACTS_LOCK = 0x6842_0001


async def advisory_lock(conn: AsyncConnection, key: int) -> None:
    await conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": key})


class ContractRepository:
    def __init__(self, conn: AsyncConnection) -> None:
        self.conn = conn

    async def publish(self, book: ContractBook) -> int:
        """Make the database hold exactly the versions of `book`: new versions are inserted,
        `effective_to` may move; a version whose rates changed, or one that disappeared from the
        files, is refused (invoices already name it). Returns how many versions were new."""
        await advisory_lock(self.conn, CONTRACTS_LOCK)
        rows = (await self.conn.execute(select(contracts))).all()
        loaded = {(r.contract_id, r.version): r for r in rows}
        wanted = {(c.contract_id, c.version): c for c in book.contracts}
        problems = [
            {"field": f"{cid} v{v}", "reason": "was loaded before but is missing from the contract files"}
            for (cid, v) in sorted(set(loaded) - set(wanted))
        ]
        problems += [
            {
                "field": f"{cid} v{v}",
                "reason": "differs from the version loaded before: publish a new version",
            }
            for (cid, v), c in wanted.items()
            if (cid, v) in loaded and loaded[(cid, v)].fingerprint != c.fingerprint
        ]
        if problems:
            raise ContractError(
                "contract files disagree with the versions already in use: "
                + "; ".join(f"{p['field']} {p['reason']}" for p in problems),
                detail=problems,
            )
        new = [c for key, c in wanted.items() if key not in loaded]
        moved = [
            c for key, c in wanted.items() if key in loaded and loaded[key].effective_to != c.effective_to
        ]
        if new:
            await self.conn.execute(insert(contracts), [_contract_row(c) for c in new])
            await self.conn.execute(
                insert(contract_rates),
                [
                    {
                        "contract_id": c.contract_id,
                        "version": c.version,
                        "tier": tier,
                        "pmpm": rate,
                        "partial_pmpm": (c.terms.partial_pmpm or {}).get(tier),
                    }
                    for c in new
                    for tier, rate in c.pmpm.items()
                ],
            )
            # Each kind of term is a child table keyed by the contract version: one insert per kind.
            for table, terms_of, fields in (
                (contract_earn_back, lambda c: c.terms.earn_back, ("measure_id", "target_rate", "share")),
                (
                    contract_incentives,
                    lambda c: c.terms.incentives,
                    ("measure_id", "target_rate", "amount", "percent"),
                ),
                (contract_dme, lambda c: c.terms.dme, ("hcpcs_code", "handling", "cap")),
            ):
                rows = [
                    {"contract_id": c.contract_id, "version": c.version, **{f: getattr(t, f) for f in fields}}
                    for c in new
                    for t in terms_of(c)
                ]
                if rows:
                    await self.conn.execute(insert(table), rows)
        if moved:
            await self.conn.execute(
                update(contracts)
                .where(
                    contracts.c.contract_id == bindparam("b_contract_id"),
                    contracts.c.version == bindparam("b_version"),
                )
                .values(effective_to=bindparam("b_effective_to")),
                [
                    {"b_contract_id": c.contract_id, "b_version": c.version, "b_effective_to": c.effective_to}
                    for c in moved
                ],
            )
        return len(new)

    async def book_in_force(self) -> ContractBook:
        """The book as `book()` reads it, from one small query when this process has read the
        same versions before: a version's content never changes once published (its fingerprint
        says so), only its `effective_to`, and both are in the key. Consumers call this once per
        batch, where the four reads of `book()` cost more than the rest of a small batch."""
        global _book_cache
        key = (await self.conn.execute(_BOOK_KEY)).scalar_one() or ""
        cached = _book_cache
        if cached is not None and cached[0] == key:
            return cached[1]
        book = await self.book()
        _book_cache = (key, book)
        return book

    async def book(self) -> ContractBook:
        query = select(
            contracts, contract_rates.c.tier, contract_rates.c.pmpm, contract_rates.c.partial_pmpm
        ).join(
            contract_rates,
            (contract_rates.c.contract_id == contracts.c.contract_id)
            & (contract_rates.c.version == contracts.c.version),
        )
        versions: dict[tuple[str, int], Any] = {}
        rates: dict[tuple[str, int], dict[str, Decimal]] = {}
        partial: dict[tuple[str, int], dict[str, Decimal]] = {}
        for r in await self.conn.execute(query):
            versions.setdefault((r.contract_id, r.version), r)
            rates.setdefault((r.contract_id, r.version), {})[r.tier] = r.pmpm
            if r.partial_pmpm is not None:
                partial.setdefault((r.contract_id, r.version), {})[r.tier] = r.partial_pmpm
        targets: dict[tuple[str, int], list[EarnBackTarget]] = {}
        for t in await self.conn.execute(select(contract_earn_back)):
            targets.setdefault((t.contract_id, t.version), []).append(
                EarnBackTarget(t.measure_id, t.target_rate, t.share)
            )
        incentives: dict[tuple[str, int], list[IncentiveTarget]] = {}
        for t in await self.conn.execute(select(contract_incentives)):
            incentives.setdefault((t.contract_id, t.version), []).append(
                IncentiveTarget(t.measure_id, t.target_rate, t.amount, t.percent)
            )
        dme: dict[tuple[str, int], list[DmeTerm]] = {}
        for t in await self.conn.execute(select(contract_dme)):
            dme.setdefault((t.contract_id, t.version), []).append(DmeTerm(t.hcpcs_code, t.handling, t.cap))
        return ContractBook(
            tuple(
                Contract(
                    contract_id=r.contract_id,
                    version=r.version,
                    effective_from=r.effective_from,
                    effective_to=r.effective_to,
                    provider_org_id=r.provider_org_id,
                    line_of_business=r.line_of_business,
                    proration=r.proration,
                    assessment_fee=r.assessment_fee,
                    pmpm=rates[key],
                    terms=ContractTerms(
                        attribution_day=r.attribution_day,
                        threshold_days=r.threshold_days,
                        partial_pmpm=partial.get(key),
                        short_later_month=r.short_later_month,
                        withhold_percent=r.withhold_percent,
                        assessment_fee_window_days=r.assessment_fee_window_days,
                        earn_back=tuple(sorted(targets.get(key, []))),
                        incentives=tuple(sorted(incentives.get(key, []))),
                        dme=tuple(sorted(dme.get(key, []))),
                    ),
                )
                for key, r in versions.items()
            )
        )


def _contract_row(c: Contract) -> dict[str, Any]:
    return {
        "contract_id": c.contract_id,
        "version": c.version,
        "effective_from": c.effective_from,
        "effective_to": c.effective_to,
        "provider_org_id": c.provider_org_id,
        "line_of_business": c.line_of_business,
        "proration": c.proration,
        "assessment_fee": c.assessment_fee,
        "fingerprint": c.fingerprint,
        "attribution_day": c.terms.attribution_day,
        "threshold_days": c.terms.threshold_days,
        "short_later_month": c.terms.short_later_month,
        "withhold_percent": c.terms.withhold_percent,
        "assessment_fee_window_days": c.terms.assessment_fee_window_days,
    }


# The versions in force, as a string that changes whenever `book()` would read something else.
_BOOK_KEY = text(f"""
SELECT string_agg(contract_id || ' ' || version || ' ' || fingerprint || ' '
                  || coalesce(effective_to::text, '-'), ',' ORDER BY contract_id, version)
FROM "{S}".contracts
""")
# (key, book) of the last book read by this process.
_book_cache: tuple[str, ContractBook] | None = None


class LedgerRepository:
    def __init__(self, conn: AsyncConnection) -> None:
        self.conn = conn

    async def add_fees(self, fees: Sequence[AssessmentFee]) -> list[AssessmentFee]:
        """Insert in one statement (the rows as one JSON document that Postgres expands: far cheaper
        than one bind parameter per value); returns the fees that were new (an assessment is paid once)."""
        if not fees:
            return []
        # The fees as they are (orjson writes a dataclass's fields in C; Decimal amounts as their
        # text): no dict per fee.
        rows = orjson.dumps(fees, default=_decimal_text).decode()
        # The new ones come back as one array in one row: a result row per fee cost the consumer
        # more than inserting it.
        result = await self.conn.execute(_ADD_FEES, {"fees": rows})
        inserted = set(result.scalar_one() or ())
        return [f for f in fees if f.assessment_id in inserted]

    async def paid_fees(self, member_ids: Iterable[str]) -> dict[str, list[PaidFee]]:
        """The assessments already paid for these members (one query), for the fee window; members
        with none are left out (most of a consumer batch: no empty list to build for each)."""
        members = list(set(member_ids))
        paid: dict[str, list[PaidFee]] = {}
        query = (
            select(
                assessment_fees.c.member_id, assessment_fees.c.assessment_id, assessment_fees.c.service_date
            )
            # One array parameter, not one bind parameter per member (a batch has thousands).
            .where(
                assessment_fees.c.member_id == any_(bindparam("members", members, type_=ARRAY(Text))),
                assessment_fees.c.reason.is_(None),
            )
            .order_by(assessment_fees.c.member_id, assessment_fees.c.service_date)
        )
        for r in await self.conn.execute(query):
            paid.setdefault(r.member_id, []).append(PaidFee(r.assessment_id, r.service_date))
        return paid

    async def enrolments(self, member_ids: Iterable[str]) -> dict[str, Enrolment]:
        """The timelines of these members, locked until commit (empty for members not seen yet)."""
        members = sorted(set(member_ids))
        timelines = {m: Enrolment(m, []) for m in members}
        query = (
            select(enrolment_spans)
            .where(enrolment_spans.c.member_id.in_(members))
            .order_by(enrolment_spans.c.member_id, enrolment_spans.c.start_date)
            .with_for_update()
        )
        for r in await self.conn.execute(query):
            timelines[r.member_id].spans.append(_span(r))
        return timelines

    async def replace_enrolments(self, enrolments: Iterable[Enrolment]) -> None:
        """Write the changed timelines. A replaced span some close saw is kept in the history, so
        that close's invoice still names its member (member_lines_sql.py); the new spans are seen
        by the closes after the last one. The caller holds off closes (late_changes.py)."""
        changed = [e for e in enrolments if e.changed]
        if not changed:
            return
        members = [e.member_id for e in changed]
        closes = (await self.conn.execute(_CLOSES)).scalar_one()
        if closes:
            await self.conn.execute(_KEEP_SEEN_SPANS, {"members": members, "closes": closes})
        await self.conn.execute(delete(enrolment_spans).where(enrolment_spans.c.member_id.in_(members)))
        rows = [
            {
                "member_id": e.member_id,
                "enrollment_id": s.enrollment_id,
                "provider_org_id": s.provider_org_id,
                "tier": s.tier,
                "line_of_business": s.line_of_business,
                "start_date": s.start,
                "end_date": s.end,
                "source_event_ids": list(s.source_event_ids),
                "prev_end": e.spans[n - 1].end if n > 0 else None,
                "next_start": e.spans[n + 1].start if n + 1 < len(e.spans) else None,
                "closes_before": closes,
            }
            for e in changed
            for n, s in enumerate(e.spans)
        ]
        if rows:
            await self.conn.execute(insert(enrolment_spans), rows)

    async def member_ledger(self, member_id: str) -> dict[str, Any]:
        spans = await self.conn.execute(
            select(enrolment_spans)
            .where(enrolment_spans.c.member_id == member_id)
            .order_by(enrolment_spans.c.start_date)
        )
        fees = await self.conn.execute(
            select(assessment_fees)
            .where(assessment_fees.c.member_id == member_id)
            .order_by(assessment_fees.c.service_date, assessment_fees.c.assessment_id)
        )
        return {
            "member_id": member_id,
            "enrolment_spans": [
                {
                    "enrollment_id": r.enrollment_id,
                    "provider_org_id": r.provider_org_id,
                    "tier": r.tier,
                    "line_of_business": r.line_of_business,
                    "from": r.start_date,
                    "to": r.end_date,
                    "source_event_ids": r.source_event_ids,
                }
                for r in spans
            ],
            "assessment_fees": [
                {
                    "accrual_id": r.accrual_id,
                    "assessment_id": r.assessment_id,
                    "provider_org_id": r.provider_org_id,
                    "service_date": r.service_date,
                    "amount": r.amount,
                    "contract_id": r.contract_id,
                    "contract_version": r.contract_version,
                    "invoice_id": r.invoice_id,
                    "reason": r.reason,
                    "source_event_ids": r.source_event_ids,
                }
                for r in fees
            ],
        }


def _span(r: Any) -> Span:
    return Span(
        enrollment_id=r.enrollment_id,
        provider_org_id=r.provider_org_id,
        tier=r.tier,
        line_of_business=r.line_of_business,
        start=r.start_date,
        end=r.end_date,
        source_event_ids=tuple(r.source_event_ids),
    )


def _decimal_text(value: object) -> str:
    """Money in the fee rows: its exact decimal text, never a float."""
    if isinstance(value, Decimal):
        return str(value)
    raise TypeError(f"{type(value).__name__} is not JSON serializable")


_ADD_FEES = text(f"""
WITH added AS (
    INSERT INTO "{S}".assessment_fees
        (accrual_id, assessment_id, member_id, provider_org_id, service_date, amount,
         contract_id, contract_version, source_event_ids, reason)
    SELECT accrual_id, assessment_id, member_id, provider_org_id, service_date, amount,
           contract_id, contract_version, ARRAY[source_event_id], reason
    -- json, not jsonb: read once in order, so a jsonb tree would only add cost (~1.3 us a fee).
    FROM json_to_recordset(CAST(:fees AS json))
         AS fee(accrual_id text, assessment_id text, member_id text, provider_org_id text, service_date date,
                amount numeric, contract_id text, contract_version integer, source_event_id text,
                reason text)
    ON CONFLICT (assessment_id) DO NOTHING
    RETURNING assessment_id
)
SELECT array_agg(assessment_id) FROM added
""")


_CLOSES = text(f'SELECT COALESCE(max(close_number), 0) FROM "{S}".months')
_KEEP_SEEN_SPANS = text(f"""
INSERT INTO "{S}".enrolment_span_history
    (member_id, enrollment_id, provider_org_id, tier, line_of_business, start_date, end_date,
     source_event_ids, prev_end, next_start, closes_before, closes_through)
SELECT member_id, enrollment_id, provider_org_id, tier, line_of_business, start_date, end_date,
       source_event_ids, prev_end, next_start, closes_before, :closes
FROM "{S}".enrolment_spans
WHERE member_id = ANY (CAST(:members AS text[])) AND closes_before < :closes
""")


class InvoiceRepository:
    def __init__(self, conn: AsyncConnection) -> None:
        self.conn = conn

    async def get(self, invoice_id: str) -> dict[str, Any] | None:
        row = (await self.conn.execute(select(invoices).where(invoices.c.invoice_id == invoice_id))).first()
        if row is None:
            return None
        lines = await self.conn.execute(
            select(invoice_lines)
            .where(
                invoice_lines.c.line_id.between(row.first_line_id, row.last_line_id),
                invoice_lines.c.invoice_id == invoice_id,
            )
            .order_by(invoice_lines.c.member_id, invoice_lines.c.kind, invoice_lines.c.line_id)
        )
        written = [(r.line_id, _line(r, r.kind, r.adjusted_month, r.reason, r.detail)) for r in lines]
        pmpm = await invoice_member_lines(self.conn, invoice_id, row.month)
        derived = [(0, _line(r, PMPM, None, None, None)) for r in pmpm]
        # as the lines were ever listed: by member (whole-invoice lines last), kind, then the order
        # they were written in (a member's PMPM lines by date)
        ordered = sorted(
            written + derived,
            key=lambda x: (
                x[1]["member_id"] is None,
                x[1]["member_id"] or "",
                x[1]["kind"],
                x[0],
                x[1]["service_date"],
            ),
        )
        return {**_invoice(row), "lines": [line for _, line in ordered]}

    async def for_month(self, month: Month, provider_org_id: str | None) -> list[dict[str, Any]]:
        query = select(invoices).where(invoices.c.month == str(month)).order_by(invoices.c.provider_org_id)
        if provider_org_id is not None:
            query = query.where(invoices.c.provider_org_id == provider_org_id)
        return [_invoice(r) for r in await self.conn.execute(query)]


def _line(r: Any, kind: str, adjusted_month: str | None, reason: str | None, detail: Any) -> dict[str, Any]:
    return {
        "member_id": r.member_id,
        "kind": kind,
        "tier": r.tier,
        "service_date": r.service_date,
        "quantity": r.quantity,
        "unit_amount": r.unit_amount,
        "amount": r.amount,
        "contract_id": r.contract_id,
        "contract_version": r.contract_version,
        "source_event_ids": r.source_event_ids,
        "adjusted_month": adjusted_month,
        "reason": reason,
        "detail": detail,
    }


def _invoice(row: Any) -> dict[str, Any]:
    issued_at: datetime = row.issued_at
    return {
        "invoice_id": row.invoice_id,
        "month": row.month,
        "provider_org_id": row.provider_org_id,
        "total_amount": row.total_amount,
        "line_count": row.line_count,
        "currency": row.currency,
        "issued_at": issued_at,
    }
