"""HTTP routes of the billing service: validate, call the handler, map the result.

Money leaves as decimal strings ("400.00"), never as floats.
"""

from datetime import date, datetime
from decimal import Decimal
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Header, Path, Query, Response, status
from pydantic import BaseModel, Field, PlainSerializer

from hearth_platform.app import DatabaseDep
from hearth_platform.auth import CallerDep
from hearth_schemas.base import Identifier, Money

from . import handlers
from .access import no_aco, plan_only, provider_filter, visible_invoice
from .close import ClosedMonth
from .exports import invoice_csv
from .periods import MONTH_PATTERN, Month

router = APIRouter(tags=["billing"])

MonthPath = Annotated[str, Path(pattern=MONTH_PATTERN, description="A calendar month, YYYY-MM.")]
# A quantity such as 1 (a full month) or, under later proration rules, a share of a month.
Quantity = Annotated[Decimal, PlainSerializer(lambda v: format(v.normalize(), "f"), return_type=str)]


class InvoiceSummary(BaseModel):
    invoice_id: str
    month: str
    provider_org_id: str
    total_amount: Money
    line_count: int
    currency: str
    issued_at: datetime


class InvoiceLineOut(BaseModel):
    member_id: str | None = Field(
        description="Null on lines of the whole invoice (withhold, earn-back, incentive)."
    )
    kind: Literal[
        "pmpm", "assessment_fee", "dme", "adjustment", "dme_adjustment", "withhold", "earn_back", "incentive"
    ]
    tier: str | None
    service_date: date
    quantity: Quantity
    unit_amount: Money
    amount: Money
    contract_id: str
    contract_version: int
    source_event_ids: list[str]
    adjusted_month: str | None = Field(default=None, description="The closed month an adjustment corrects.")
    reason: str | None = Field(
        default=None,
        description="Why an adjustment, withhold or earn-back was posted, or why an assessment "
        "accrued 0.00 (inside the contract's fee window).",
    )
    detail: dict[str, Any] | None = Field(
        default=None,
        description="Earn-back and incentive: the score, measure, rate and rule; withhold: percent "
        "and base; DME: the request, HCPCS code, requested amount and cap.",
    )


class InvoiceOut(InvoiceSummary):
    lines: list[InvoiceLineOut]


class MonthOut(BaseModel):
    month: str
    status: Literal["open", "closed"]
    closed_at: datetime | None = None
    invoice_ids: list[str] = []
    total_amount: Money | None = None
    member_months: int | None = None


class SpanOut(BaseModel):
    enrollment_id: str
    provider_org_id: str
    tier: str
    line_of_business: str | None
    from_: date = Field(alias="from")
    to: date | None = Field(description="Last enrolled day (inclusive); null while enrolled.")
    source_event_ids: list[str]


class FeeOut(BaseModel):
    accrual_id: str
    assessment_id: str
    provider_org_id: str
    service_date: date
    amount: Money
    contract_id: str
    contract_version: int
    invoice_id: str | None
    reason: str | None = Field(
        default=None, description="Why the fee is 0.00: already paid for the member inside the window."
    )
    source_event_ids: list[str]


class MemberLedgerOut(BaseModel):
    member_id: str
    enrolment_spans: list[SpanOut]
    assessment_fees: list[FeeOut]


def _month_out(month: Month, closed: ClosedMonth | None) -> MonthOut:
    if closed is None:
        return MonthOut(month=str(month), status="open")
    return MonthOut(
        month=closed.month,
        status="closed",
        closed_at=closed.closed_at,
        invoice_ids=[i.invoice_id for i in closed.invoices],
        total_amount=closed.total_amount,
        member_months=closed.member_months,
    )


@router.post(
    "/months/{month}/close",
    status_code=status.HTTP_201_CREATED,
    response_model=MonthOut,
    responses={
        200: {"description": "The month was already closed: the invoices of that close."},
        403: {"description": "Only the plan closes months."},
        409: {"description": "An earlier month with activity is open, or member-months lack a rate."},
    },
)
async def close_month(month: MonthPath, db: DatabaseDep, response: Response, caller: CallerDep) -> MonthOut:
    """Close a month: one invoice per provider organization, `MonthClosed` and `InvoiceIssued`
    events. Idempotent: closing a closed month answers 200 with the same invoices. Plan only."""
    plan_only(caller, "closing a month")
    period = Month.parse(month)
    closed = await handlers.close_month(db, period)
    if not closed.created:
        response.status_code = status.HTTP_200_OK
    return _month_out(period, closed)


@router.get("/months/{month}", response_model=MonthOut)
async def get_month(month: MonthPath, db: DatabaseDep, caller: CallerDep) -> MonthOut:
    """A month's status and plan-wide totals (plan only; providers list their own invoices)."""
    plan_only(caller, "the month summary")
    period = Month.parse(month)
    return _month_out(period, await handlers.month_view(db, period))


@router.get("/invoices", response_model=list[InvoiceSummary])
async def list_invoices(
    db: DatabaseDep,
    month: Annotated[str, Query(pattern=MONTH_PATTERN, description="A calendar month, YYYY-MM.")],
    caller: CallerDep,
    provider_org_id: Annotated[Identifier | None, Query()] = None,
) -> list[InvoiceSummary]:
    """The month's invoices; a provider's client gets only its own organization's."""
    own = provider_filter(caller)
    if own is not None and provider_org_id not in (None, own):
        return []
    rows = await handlers.invoices_view(db, Month.parse(month), own or provider_org_id)
    return [InvoiceSummary.model_validate(r) for r in rows]


@router.get(
    "/invoices/{invoice_id}",
    response_model=InvoiceOut,
    responses={
        200: {
            "content": {"text/csv": {}},
            "description": "JSON, or CSV with ?format=csv or Accept: text/csv.",
        }
    },
)
async def get_invoice(
    invoice_id: Annotated[str, Path(max_length=64)],
    db: DatabaseDep,
    caller: CallerDep,
    format: Annotated[Literal["json", "csv"] | None, Query(description="csv: one row per line")] = None,
    accept: Annotated[str | None, Header(max_length=1000)] = None,
) -> InvoiceOut | Response:
    """The invoice and its lines, each line naming the events it came from (`source_event_ids`).
    CSV when asked by `?format=csv` or by `Accept: text/csv` (the query parameter wins)."""
    invoice = visible_invoice(caller, await handlers.invoice_view(db, invoice_id))
    wants_csv = format == "csv" or (format is None and "text/csv" in (accept or ""))
    if wants_csv:
        return Response(
            invoice_csv(invoice),
            media_type="text/csv",
            headers={"content-disposition": f'attachment; filename="invoice-{invoice["invoice_id"]}.csv"'},
        )
    return InvoiceOut.model_validate(invoice)


@router.get("/members/{member_id}/ledger", response_model=MemberLedgerOut)
async def get_member_ledger(
    member_id: Annotated[str, Path(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9._:-]+$")],
    db: DatabaseDep,
    caller: CallerDep,
) -> MemberLedgerOut:
    """What billing holds for a member: enrolment spans and assessment fees, with their events;
    a provider's client sees only its own organization's spans and fees."""
    no_aco(caller)
    ledger = await handlers.member_ledger_view(db, member_id)
    for entries in ("enrolment_spans", "assessment_fees"):
        ledger[entries] = [e for e in ledger[entries] if caller.sees_org(e["provider_org_id"])]
    return MemberLedgerOut.model_validate(ledger)
