"""Events of the billing service: accruals, month close, invoices and adjustments."""

from datetime import date, datetime
from typing import ClassVar

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
