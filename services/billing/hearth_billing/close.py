"""The month close: member-months and fees become one invoice per provider organization.

The rules, written here in plain Python, are the specification; the close itself runs them as
set-based SQL in `close_repository.CloseRepository` (a million member-months do not pass through
Python: they are priced in groups of members priced alike, pricing_sql.py, and each member's line
is read back from the spans the close saw, member_lines_sql.py), and the integration tests check
that both agree, member by member (test_billing_close_reference.py).

Full-month rule: a member enrolled on any day of the month is paid one whole month, once, to the
organization and at the tier in force on the member's last enrolled day of that month (so a tier
change on the 20th pays the new tier; a move to another organization pays the organization the
member ended the month with). That day also selects the contract. The other proration rules
(attributed on a day, day threshold, daily) are specified in `proration.py` and run in SQL by
`pricing_sql.py`; adjustments of closed months, withholds and earn-backs in `close_adjustments.py`.

Fees: every assessment fee accrued up to the end of the month and not yet invoiced. A fee that
arrives after its month was closed is billed in the next close, never by rewriting a closed
invoice. An assessment inside the contract's fee window of one already paid for the member is
billed at 0.00 with the reason (ledger.py).

Amounts: each line is quantity x unit amount rounded half-up to cents; an invoice total is the sum
of its rounded lines.
"""

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal

from hearth_platform.errors import Conflict

from .ledger import Span
from .money import to_cents
from .periods import Month

PMPM = "pmpm"
ASSESSMENT_FEE = "assessment_fee"


class EarlierMonthsOpen(Conflict):
    def __init__(self, month: Month, open_months: Sequence[str]) -> None:
        super().__init__(
            f"cannot close {month}: earlier months with ledger activity are still open: "
            f"{', '.join(open_months)}; close them first, oldest first",
            detail=[{"field": "month", "reason": f"{m} is open"} for m in open_months],
        )


class UnpricedMemberMonths(Conflict):
    """Member-months no contract prices (no contract in force, or a tier it has no rate for)."""

    def __init__(self, month: Month, examples: Sequence[tuple[str, str, str, date]], count: int) -> None:
        shown = "; ".join(
            f"member {m} at {org}, tier {tier!r} on {day.isoformat()}" for m, org, tier, day in examples
        )
        super().__init__(
            f"cannot close {month}: {count} member-month(s) have no contract rate, e.g. {shown}; "
            f"publish a contract version that covers them"
        )


@dataclass(frozen=True)
class MemberMonth:
    member_id: str
    month: Month
    provider_org_id: str
    tier: str
    line_of_business: str | None
    # The member's last enrolled day of the month: it picks the organization, tier and contract.
    anchor_day: date
    source_event_ids: tuple[str, ...]


def full_month(member_id: str, spans: Iterable[Span], month: Month) -> MemberMonth | None:
    """The member-month under the full-month rule, or None if not enrolled on any day of it."""
    first, last = month.first_day, month.last_day
    in_month = [s for s in spans if s.overlaps(first, last)]
    if not in_month:
        return None

    def last_enrolled_day(span: Span) -> date:
        return last if span.end is None else min(span.end, last)

    anchor = max(in_month, key=last_enrolled_day)
    return MemberMonth(
        member_id=member_id,
        month=month,
        provider_org_id=anchor.provider_org_id,
        tier=anchor.tier,
        line_of_business=anchor.line_of_business,
        anchor_day=last_enrolled_day(anchor),
        source_event_ids=anchor.source_event_ids,
    )


def line_amount(quantity: Decimal, unit_amount: Decimal) -> Decimal:
    return to_cents(quantity * unit_amount)


def invoice_total(line_amounts: Iterable[Decimal]) -> Decimal:
    """Lines are rounded first, then summed: the total always equals the sum of what is shown."""
    return sum(line_amounts, Decimal("0.00"))


@dataclass(frozen=True)
class IssuedInvoice:
    invoice_id: str
    provider_org_id: str
    total_amount: Decimal
    line_count: int


@dataclass(frozen=True)
class ClosedMonth:
    month: str
    closed_at: datetime
    invoices: tuple[IssuedInvoice, ...]
    member_months: int
    created: bool

    @property
    def total_amount(self) -> Decimal:
        return invoice_total(i.total_amount for i in self.invoices)
