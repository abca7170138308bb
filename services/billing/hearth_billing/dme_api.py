"""HTTP routes of DME requests: `POST /dme-requests` decides a request against the contract and
keeps the decision (approved or refused, with the reason); `GET /dme-requests/{id}` shows it with
the invoice that billed it; `GET /members/{id}/dme-requests` lists a member's requests."""

from datetime import date, datetime
from decimal import Decimal
from typing import Annotated, Literal

from fastapi import APIRouter, Path, status
from pydantic import BaseModel, ConfigDict, Field

from hearth_platform.app import DatabaseDep
from hearth_platform.auth import CallerDep
from hearth_platform.errors import NotFound
from hearth_schemas.base import Money

from . import handlers
from .access import no_aco, provider_filter
from .contract_terms import HCPCS_PATTERN

router = APIRouter(tags=["billing"])

MEMBER_ID = r"^[A-Za-z0-9._:-]+$"
MemberId = Annotated[str, Field(min_length=1, max_length=64, pattern=MEMBER_ID)]


class DmeRequestIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    member_id: MemberId
    hcpcs_code: Annotated[
        str, Field(pattern=HCPCS_PATTERN, description="HCPCS level II code, e.g. E0250 or E1390.")
    ]
    service_date: Annotated[date, Field(ge=date(1900, 1, 1), le=date(2999, 12, 31))]
    amount: Annotated[Decimal, Field(gt=0, lt=Decimal("1e9"), max_digits=11, decimal_places=2)]


class DmeRequestOut(BaseModel):
    request_id: str
    member_id: str
    provider_org_id: str | None = Field(description="Null when the member was not enrolled that day.")
    hcpcs_code: str
    service_date: date
    requested_amount: Money
    status: Literal["approved", "refused"]
    handling: Literal["allowance", "pass_through"] | None
    reason: str
    billed_amount: Money | None = Field(
        description="Approved: 0.00 inside the PMPM (allowance), else the amount up to the cap."
    )
    contract_id: str | None
    contract_version: int | None
    invoice_id: str | None = Field(description="The invoice that billed a pass-through, once closed.")
    requested_at: datetime


@router.post("/dme-requests", status_code=status.HTTP_201_CREATED, response_model=DmeRequestOut)
async def post_dme_request(body: DmeRequestIn, db: DatabaseDep, caller: CallerDep) -> DmeRequestOut:
    """Decide a DME request against the contract in force for the member's organization on the
    service date. A refusal (not enrolled, no contract, a code the contract does not list) is a
    decision too: kept and answered with its reason. A provider requests only for members enrolled
    with it on that date (else 404, nothing kept)."""
    request = await handlers.request_dme(
        db, body.member_id, body.hcpcs_code, body.service_date, body.amount, for_org=provider_filter(caller)
    )
    return DmeRequestOut.model_validate(request)


@router.get("/dme-requests/{request_id}", response_model=DmeRequestOut)
async def get_dme_request(
    request_id: Annotated[str, Path(max_length=64)], db: DatabaseDep, caller: CallerDep
) -> DmeRequestOut:
    no_aco(caller)
    request = await handlers.dme_request_view(db, request_id)
    if not caller.sees_org(request["provider_org_id"]):
        raise NotFound(f"DME request {request_id} does not exist")
    return DmeRequestOut.model_validate(request)


@router.get("/members/{member_id}/dme-requests", response_model=list[DmeRequestOut])
async def list_member_dme_requests(
    member_id: Annotated[str, Path(min_length=1, max_length=64, pattern=MEMBER_ID)],
    db: DatabaseDep,
    caller: CallerDep,
) -> list[DmeRequestOut]:
    """A member's DME requests; a provider's client sees only its own organization's."""
    no_aco(caller)
    requests = await handlers.member_dme_requests_view(db, member_id)
    return [DmeRequestOut.model_validate(r) for r in requests if caller.sees_org(r["provider_org_id"])]
