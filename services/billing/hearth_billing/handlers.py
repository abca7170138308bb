"""Commands and consumed events of the billing service. Each opens (or is given) a unit of work,
loads in sets, calls the rules, writes in sets, stages events in the outbox, and commits.

Consumed: AssessmentCompleted (fee accrual), MemberEnrolled, TierChanged, MemberDisenrolled
(enrolment spans; a change effective in a closed month is also recorded as a late change),
PerformanceScored (stored for the earn-back). Produced: AssessmentFeeAccrued, MonthClosed,
InvoiceIssued, AdjustmentPosted.
"""

import logging
import uuid
from collections.abc import Callable, Mapping
from dataclasses import replace
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any, TypeVar

from hearth_platform.db import Database, UnitOfWork, current_trace
from hearth_platform.errors import NotFound
from hearth_platform.handlers import HandlerRegistry, Received
from hearth_schemas import (
    AdjustmentPosted,
    AssessmentCompleted,
    AssessmentFeeAccrued,
    DmeRequestDecided,
    InvoiceIssued,
    MemberDisenrolled,
    MemberEnrolled,
    MonthClosed,
    PerformanceScored,
    TierChanged,
)
from hearth_schemas.base import Event

from .close import ClosedMonth, EarlierMonthsOpen, IssuedInvoice, UnpricedMemberMonths
from .close_adjustments import CloseAdjustments
from .close_repository import CloseRepository
from .contracts import ContractBook, read_contracts
from .dme import DmeDecision
from .dme import decide as decide_dme
from .dme_repository import DmeRepository
from .late_changes import LateChange, LateChangeRepository
from .ledger import Enrolment, accrue_assessment_fees
from .periods import Month
from .repository import ContractRepository, InvoiceRepository, LedgerRepository

log = logging.getLogger("hearth.billing")
handlers = HandlerRegistry()
E = TypeVar("E", bound=Event)


async def load_contracts(db: Database, directory: Path) -> ContractBook:
    """Validate the contract files and make them the versions in force (at start-up)."""
    book = read_contracts(directory)
    async with db.unit_of_work() as uow:
        new = await ContractRepository(uow.conn).publish(book)
        await uow.commit()
    log.info("contracts loaded", extra={"versions": len(book.contracts), "new_versions": new})
    return book


@handlers.on(AssessmentCompleted)
async def on_assessment_completed(uow: UnitOfWork, items: list[Received[AssessmentCompleted]]) -> None:
    """Accrue the assessment fee, enrolled or not, at most once per member per the contract's
    window: one contract read, one read of the members' paid fees (when a contract has a window),
    one insert for the run. An assessment inside the window is kept at 0.00 with the reason, and
    announces no accrual."""
    book = await ContractRepository(uow.conn).book_in_force()
    ledger = LedgerRepository(uow.conn)
    paid = await ledger.paid_fees(i.event.member_id for i in items) if book.has_fee_window else {}
    fees = accrue_assessment_fees(book, ((i.envelope.id, i.event) for i in items), paid)
    accrued = await ledger.add_fees(fees)
    envelopes = {i.envelope.id: i.envelope for i in items}
    for fee in accrued:
        if not fee.paid:
            continue
        uow.publish(
            AssessmentFeeAccrued(
                accrual_id=fee.accrual_id,
                member_id=fee.member_id,
                provider_org_id=fee.provider_org_id,
                assessment_id=fee.assessment_id,
                service_date=fee.service_date,
                amount=fee.amount,
                contract_id=fee.contract_id,
            ),
            caused_by=envelopes[fee.source_event_id],
            aggregatetype="assessment_fee",
        )


@handlers.on(MemberEnrolled)
async def on_member_enrolled(
    uow: UnitOfWork, items: list[Received[MemberEnrolled]]
) -> list[Received[MemberEnrolled]]:
    """A span from the effective date; a tier no contract prices is refused (dead-lettered with
    the reason) rather than discovered at month end."""
    book = await ContractRepository(uow.conn).book()
    for item in items:
        book.check_tier(item.event.tier)

    def enrol(enrolment: Enrolment, item: Received[MemberEnrolled]) -> date | None:
        e = item.event
        enrolment.enrol(
            enrollment_id=e.enrollment_id,
            provider_org_id=e.provider_org_id,
            tier=e.tier,
            line_of_business=e.line_of_business,
            on=e.effective_date,
            event_id=item.envelope.id,
        )
        return e.effective_date

    return await _change_enrolments(uow, items, enrol, "late_enrolment")


@handlers.on(TierChanged)
async def on_tier_changed(uow: UnitOfWork, items: list[Received[TierChanged]]) -> list[Received[TierChanged]]:
    """The enrollment's days from the effective date onward move to the new tier."""
    book = await ContractRepository(uow.conn).book()
    for item in items:
        book.check_tier(item.event.to_tier)

    def change(enrolment: Enrolment, item: Received[TierChanged]) -> date | None:
        e = item.event
        if not enrolment.knows(e.enrollment_id):
            return None
        enrolment.change_tier(
            enrollment_id=e.enrollment_id, tier=e.to_tier, on=e.effective_date, event_id=item.envelope.id
        )
        return e.effective_date

    return await _change_enrolments(uow, items, change, "late_tier_change")


@handlers.on(MemberDisenrolled)
async def on_member_disenrolled(
    uow: UnitOfWork, items: list[Received[MemberDisenrolled]]
) -> list[Received[MemberDisenrolled]]:
    """The enrollment ends the day before the effective date, which may lie in the past."""

    def disenrol(enrolment: Enrolment, item: Received[MemberDisenrolled]) -> date | None:
        e = item.event
        if not enrolment.knows(e.enrollment_id):
            return None
        enrolment.disenrol(enrollment_id=e.enrollment_id, on=e.effective_date, event_id=item.envelope.id)
        return e.effective_date

    return await _change_enrolments(uow, items, disenrol, "retro_disenrolment")


@handlers.on(PerformanceScored)
async def on_performance_scored(uow: UnitOfWork, items: list[Received[PerformanceScored]]) -> None:
    """Store the score; the first close after its period applies the contract's earn-back."""
    await LateChangeRepository(uow.conn).store_scores([(i.envelope.id, i.event) for i in items])


async def _change_enrolments(
    uow: UnitOfWork,
    items: list[Received[E]],
    apply: Callable[[Enrolment, Received[E]], date | None],
    late_reason: str,
) -> list[Received[E]]:
    """Load the timelines of every member in the run (one query), apply the changes in order,
    and write back the timelines that changed (one delete, one insert). Changes effective in a
    closed month are recorded with `late_reason` for the next close to adjust.

    A tier change or disenrolment for an enrollment billing has not seen yet is returned to be
    parked and retried; the member's later events in the run wait behind it, to keep their order.
    """
    repo = LedgerRepository(uow.conn)
    timelines = await repo.enrolments(i.event.subject() for i in items)
    waiting: list[Received[E]] = []
    applied: list[LateChange] = []
    blocked: set[str] = set()
    for item in items:
        member_id = item.event.subject()
        effective = None if member_id in blocked else apply(timelines[member_id], item)
        if effective is None:
            blocked.add(member_id)
            waiting.append(item)
        else:
            applied.append(LateChange(member_id, effective, late_reason, item.envelope.id))
    await LateChangeRepository(uow.conn).record(applied)
    await repo.replace_enrolments(timelines.values())
    return waiting


async def close_month(
    db: Database,
    month: Month,
    *,
    closed_at: datetime | None = None,
    invoice_ids: Mapping[str, str] | None = None,
) -> ClosedMonth:
    """Close `month`: one invoice per provider organization, `MonthClosed` and one
    `InvoiceIssued` per invoice, all in one transaction. Closing a closed month returns what the
    first close issued. Closes run one at a time and oldest first: an earlier month with ledger
    activity that is still open makes the close a conflict.

    A rebuild from the topics (rebuild.py) repeats a recorded close: `closed_at` and the
    organizations' `invoice_ids` are then the ones the original close announced."""
    # The close's events share one correlation id, so consumers can tie each InvoiceIssued to
    # its MonthClosed even when the request brought none.
    trace = current_trace.get()
    if trace.correlation_id is None:
        trace = replace(trace, correlation_id=str(uuid.uuid4()))
    async with db.unit_of_work(trace) as uow:
        repo = CloseRepository(uow.conn)
        await repo.lock()
        if (done := await repo.closed(month)) is not None:
            return done
        if open_months := await repo.earlier_open_months(month):
            raise EarlierMonthsOpen(month, open_months)
        await repo.build_lines(month)
        await repo.price_pmpm(month)
        ids = await repo.invoice_ids(invoice_ids or {})
        first_line_id = await repo.first_line_id()
        unpriced, examples = await repo.unpriced(month)
        if unpriced:
            raise UnpricedMemberMonths(month, examples, unpriced)
        await repo.add_withholds(month)
        totals = await repo.org_totals()
        adjustments = await CloseAdjustments(uow.conn).posted()
        closed = ClosedMonth(
            month=str(month),
            closed_at=closed_at or datetime.now(UTC),
            invoices=tuple(IssuedInvoice(ids[org], org, total, lines) for org, total, lines, _ in totals),
            member_months=sum(mm for *_, mm in totals),
            created=True,
        )
        await repo.issue(closed, first_line_id)
        for invoice in closed.invoices:
            uow.publish(
                InvoiceIssued(
                    invoice_id=invoice.invoice_id,
                    month=closed.month,
                    provider_org_id=invoice.provider_org_id,
                    total_amount=invoice.total_amount,
                    line_count=invoice.line_count,
                ),
                aggregatetype="invoice",
            )
        for adjustment in adjustments:
            uow.publish(
                AdjustmentPosted(
                    adjustment_id=str(uuid.uuid4()),
                    member_id=adjustment.member_id,
                    provider_org_id=adjustment.provider_org_id,
                    adjusted_month=adjustment.adjusted_month,
                    posted_month=closed.month,
                    amount=adjustment.amount,
                    reason=adjustment.reason,
                    cause_event_ids=list(adjustment.cause_event_ids),
                ),
                aggregatetype="adjustment",
            )
        uow.publish(
            MonthClosed(
                month=closed.month,
                closed_at=closed.closed_at,
                invoice_ids=[i.invoice_id for i in closed.invoices],
                total_amount=closed.total_amount,
                member_months=closed.member_months,
            ),
            aggregatetype="month",
        )
        await uow.commit()
    log.info(
        "month closed",
        extra={
            "month": closed.month,
            "invoices": len(closed.invoices),
            "member_months": closed.member_months,
        },
    )
    return closed


async def month_view(db: Database, month: Month) -> ClosedMonth | None:
    async with db.unit_of_work() as uow:
        return await CloseRepository(uow.conn).closed(month)


async def invoice_view(db: Database, invoice_id: str) -> dict[str, Any]:
    async with db.unit_of_work() as uow:
        invoice = await InvoiceRepository(uow.conn).get(invoice_id)
    if invoice is None:
        raise NotFound(f"invoice {invoice_id} does not exist")
    return invoice


async def invoices_view(db: Database, month: Month, provider_org_id: str | None) -> list[dict[str, Any]]:
    async with db.unit_of_work() as uow:
        return await InvoiceRepository(uow.conn).for_month(month, provider_org_id)


async def member_ledger_view(db: Database, member_id: str) -> dict[str, Any]:
    async with db.unit_of_work() as uow:
        return await LedgerRepository(uow.conn).member_ledger(member_id)


async def request_dme(
    db: Database,
    member_id: str,
    hcpcs_code: str,
    service_date: date,
    amount: Decimal,
    for_org: str | None = None,
) -> dict[str, Any]:
    """Decide a DME request against the contract in force on its date and keep the decision. The
    close lock is held shared, so a request lands wholly before a close or after it (then the next
    close bills it): none is half-billed. With `for_org` (a provider's request), a member not
    enrolled with that organization on the date is not found, and nothing is kept."""
    async with db.unit_of_work() as uow:
        await LateChangeRepository(uow.conn).hold_off_closes()
        repo = DmeRepository(uow.conn)
        enrolled = await repo.enrolled_on(member_id, service_date)
        if for_org is not None and (enrolled is None or enrolled.provider_org_id != for_org):
            raise NotFound(f"member {member_id} is not enrolled with {for_org} on {service_date.isoformat()}")
        book = await ContractRepository(uow.conn).book()
        decision = decide_dme(book, member_id, hcpcs_code, service_date, amount, enrolled)
        request = await repo.add(str(uuid.uuid4()), member_id, hcpcs_code, service_date, amount, decision)
        uow.publish(dme_decided(request), aggregatetype="dme_request")
        await uow.commit()
    log.info("dme request decided", extra={"status": decision.status, "hcpcs_code": hcpcs_code})
    return request


def dme_decided(request: Mapping[str, Any]) -> DmeRequestDecided:
    """The event of a kept decision: the request as decided, so a rebuild can replay it."""
    return DmeRequestDecided.model_validate(
        {field: request[field] for field in DmeRequestDecided.model_fields if field in request}
    )


async def replay_dme_decision(db: Database, decided: DmeRequestDecided) -> None:
    """Keep a recorded decision as it was decided (rebuild.py): the contract and enrolment it was
    decided by are the facts of that moment, so it is not decided again."""
    decision = DmeDecision(
        status=decided.status,
        reason=decided.reason,
        provider_org_id=decided.provider_org_id,
        handling=decided.handling,
        billed_amount=decided.billed_amount,
        contract_id=decided.contract_id,
        contract_version=decided.contract_version,
    )
    async with db.unit_of_work() as uow:
        await DmeRepository(uow.conn).add(
            decided.request_id,
            decided.member_id,
            decided.hcpcs_code,
            decided.service_date,
            decided.requested_amount,
            decision,
            requested_at=decided.requested_at,
        )
        await uow.commit()


async def dme_request_view(db: Database, request_id: str) -> dict[str, Any]:
    async with db.unit_of_work() as uow:
        request = await DmeRepository(uow.conn).get(request_id)
    if request is None:
        raise NotFound(f"DME request {request_id} does not exist")
    return request


async def member_dme_requests_view(db: Database, member_id: str) -> list[dict[str, Any]]:
    async with db.unit_of_work() as uow:
        return await DmeRepository(uow.conn).for_member(member_id)
