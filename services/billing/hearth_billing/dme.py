"""DME requests decided against the contract (pure rules; the SQL is in dme_repository.py).

A request names a member, a HCPCS code (E0250 hospital bed, E1390 oxygen concentrator, ...), a
service date and an amount. It is decided by the contract in force for the organization the member
is enrolled with on that date:

- the member is not enrolled that day, no contract is in force, or the contract does not list the
  code: refused, with the reason;
- the code is an `allowance`: approved, paid inside the PMPM, never billed apart (billed 0.00);
- the code is a `pass_through`: approved and billed up to the contract's cap, as a DME line on
  the invoice of the first close that covers the service date (the line names the request).

Every decision is kept, refusals too, so a provider can see why a request was not paid.
"""

from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Literal

from .contracts import ContractBook, NoContract
from .money import to_cents

APPROVED = "approved"
REFUSED = "refused"
Status = Literal["approved", "refused"]


@dataclass(frozen=True)
class Enrolled:
    """Where the member was enrolled on the service date."""

    provider_org_id: str
    line_of_business: str | None


@dataclass(frozen=True)
class DmeDecision:
    status: Status
    reason: str
    provider_org_id: str | None = None
    handling: str | None = None
    billed_amount: Decimal | None = None
    contract_id: str | None = None
    contract_version: int | None = None


def decide(
    book: ContractBook,
    member_id: str,
    hcpcs_code: str,
    service_date: date,
    amount: Decimal,
    enrolled: Enrolled | None,
) -> DmeDecision:
    day = service_date.isoformat()
    if enrolled is None:
        return DmeDecision(REFUSED, f"member {member_id} is not enrolled on {day}")
    org = enrolled.provider_org_id
    try:
        contract = book.in_force(org, enrolled.line_of_business, service_date)
    except NoContract:
        return DmeDecision(REFUSED, f"no contract is in force for {org} on {day}", provider_org_id=org)
    named = f"contract {contract.contract_id} v{contract.version}"
    scope = dict(provider_org_id=org, contract_id=contract.contract_id, contract_version=contract.version)
    term = next((t for t in contract.terms.dme if t.hcpcs_code == hcpcs_code), None)
    if term is None:
        covered = ", ".join(t.hcpcs_code for t in contract.terms.dme) or "none"
        return DmeDecision(REFUSED, f"{hcpcs_code} is not covered by {named} (covered: {covered})", **scope)
    if term.handling == "allowance":
        return DmeDecision(
            APPROVED,
            f"{hcpcs_code} is an allowance inside the PMPM of {named}: not billed separately",
            handling=term.handling,
            billed_amount=Decimal("0.00"),
            **scope,
        )
    assert term.cap is not None  # a pass_through always has a cap (contract_terms.py)
    billed = to_cents(min(amount, term.cap))
    capped = " (capped)" if amount > term.cap else ""
    return DmeDecision(
        APPROVED,
        f"{hcpcs_code} passes through {named} up to {term.cap}: billed {billed} of {to_cents(amount)}{capped}",
        handling=term.handling,
        billed_amount=billed,
        **scope,
    )
