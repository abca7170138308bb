"""Events of the billing service: accruals, DME decisions, month close, invoices and adjustments."""

from datetime import date, datetime
from typing import ClassVar, Literal

from pydantic import Field

from .base import Event, Identifier, MemberId, Money, Month


class _BillingEvent(Event):
    service: ClassVar[str] = "billing"


class AssessmentFeeAccrued(_BillingEvent):
    """The initial-assessment fee, owed whether or not the member enrols."""

    name: ClassVar[str] = "AssessmentFeeAccrued"

    accrual_id: Identifier
    member_id: MemberId
    provider_org_id: Identifier
    assessment_id: Identifier
    service_date: date
    amount: Money
    contract_id: Identifier
    contract_version: int | None = Field(default=None, ge=1)


class DmeRequestDecided(_BillingEvent):
    """A DME request decided against the contract (approved or refused, with the reason). It is
    the request's record on a topic: a rebuild of billing replays it as decided, so the rebuilt
    invoices carry the same DME lines."""

    name: ClassVar[str] = "DmeRequestDecided"

    request_id: Identifier
    member_id: MemberId
    provider_org_id: Identifier | None = None
    hcpcs_code: str = Field(pattern=r"^[A-Z][0-9]{4}$")
    service_date: date
    requested_amount: Money
    status: Literal["approved", "refused"]
    handling: Literal["allowance", "pass_through"] | None = None
    reason: str = Field(max_length=1000)
    billed_amount: Money | None = None
    contract_id: Identifier | None = None
    contract_version: int | None = Field(default=None, ge=1)
    requested_at: datetime


class MonthClosed(_BillingEvent):
    name: ClassVar[str] = "MonthClosed"
    subject_field: ClassVar[str] = "month"

    month: Month
    closed_at: datetime
    invoice_ids: list[Identifier]
    total_amount: Money
    member_months: int = Field(ge=0)


class InvoiceIssued(_BillingEvent):
    name: ClassVar[str] = "InvoiceIssued"
    subject_field: ClassVar[str] = "provider_org_id"

    invoice_id: Identifier
    month: Month
    provider_org_id: Identifier
    total_amount: Money
    line_count: int = Field(ge=0)
    currency: str = "USD"


class AdjustmentPosted(_BillingEvent):
    """A late change to a closed month, posted as reversal and correction on an open month."""

    name: ClassVar[str] = "AdjustmentPosted"

    adjustment_id: Identifier
    member_id: MemberId
    provider_org_id: Identifier
    adjusted_month: Month
    posted_month: Month
    amount: Money
    reason: str = Field(max_length=64)
    cause_event_ids: list[Identifier] = Field(default_factory=list)
