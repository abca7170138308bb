"""The claim-line feed from the plan's data platform (topic `claims.lines`)."""

from datetime import date
from typing import ClassVar, Literal

from pydantic import Field

from .base import Event, Identifier, MemberId, Money

ClaimType = Literal["inpatient", "outpatient", "professional", "dme", "hospice", "snf", "home_health"]


class ClaimLineReceived(Event):
    """One adjudicated claim line, close to CMS CCLF fields; diagnosis codes without dots."""

    service: ClassVar[str] = "claims"
    name: ClassVar[str] = "ClaimLineReceived"

    claim_id: Identifier
    line_number: int = Field(ge=1)
    member_id: MemberId
    claim_type: ClaimType
    service_from: date
    service_to: date
    diagnosis_codes: list[str] = Field(default_factory=list, max_length=25)
    procedure_code: str | None = Field(default=None, max_length=8)
    revenue_code: str | None = Field(default=None, max_length=4)
    place_of_service: str | None = Field(default=None, max_length=2)
    admission_type: Literal["emergency", "urgent", "elective"] | None = None
    ed_visit: bool = False
    discharge_status: str | None = Field(default=None, max_length=2)
    paid_amount: Money
