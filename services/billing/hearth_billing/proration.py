"""What a member-month pays under each proration rule, written in plain Python as the
specification of the set-based close (`close_sql.py` runs the same rules in SQL; the unit tests
prove these rules by hand-computed amounts and the integration tests prove the SQL agrees).

A member's month is cut into segments: each enrolment span that overlaps the month, clipped to it
(a tier change or a move to another organization starts a new span). Each segment is priced by
the contract in force for its organization and line of business on the segment's last day in the
month, and that contract's rule says whether and how the segment is paid:

| rule | who is paid | tier of a mid-month tier change | amount |
|---|---|---|---|
| full_month | the segment of the member's last enrolled day of the month | that day's tier | the rate |
| day_threshold | the same segment | that day's tier | the rate if the member was enrolled (any organization, any tier) at least `threshold_days` days of the month; fewer days: `partial_pmpm` in the member's first month in the program (no span starts before the month), and in a later month the rate (`short_later_month = "full"`) or `partial_pmpm` (`"partial"`) |
| attributed_on_day | the segment covering day `attribution_day` (the last day in a shorter month); nobody if none covers it | that day's tier | the rate |
| daily | every segment | each tier for its own days | rate x segment days / days in month |

Each line is rounded half-up to cents (a daily line: the exact product, rounded once; the quantity
is shown to 6 places). Organizations are each paid by their own contract: contracts of one plan
normally share one rule, and the table above is what happens when they do not.
"""

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import ROUND_HALF_UP, Decimal

from .contracts import Contract, ContractBook, UnknownTier
from .ledger import Span
from .money import to_cents
from .periods import Month

QUANTITY = Decimal("0.000001")


@dataclass(frozen=True)
class Segment:
    span: Span
    start: date
    end: date

    @property
    def days(self) -> int:
        return (self.end - self.start).days + 1


@dataclass(frozen=True)
class PmpmLine:
    member_id: str
    provider_org_id: str
    tier: str
    service_date: date
    quantity: Decimal
    unit_amount: Decimal
    amount: Decimal
    contract_id: str
    contract_version: int
    source_event_ids: tuple[str, ...]


def segments(spans: Iterable[Span], month: Month) -> list[Segment]:
    first, last = month.first_day, month.last_day
    return sorted(
        (
            Segment(s, max(s.start, first), last if s.end is None else min(s.end, last))
            for s in spans
            if s.overlaps(first, last)
        ),
        key=lambda g: g.end,
    )


def attribution_date(contract: Contract, month: Month) -> date:
    day = contract.terms.attribution_day or 1
    return min(month.first_day + timedelta(days=day - 1), month.last_day)


def bill_month(member_id: str, spans: Iterable[Span], month: Month, book: ContractBook) -> list[PmpmLine]:
    """The PMPM lines of one member-month, under the rule of each segment's contract."""
    all_spans = list(spans)
    cut = segments(all_spans, month)
    if not cut:
        return []
    last_segment = cut[-1]
    month_days = sum(g.days for g in cut)
    first_month = not any(s.start < month.first_day for s in all_spans)
    days_in_month = month.last_day.day
    lines = []
    for g in cut:
        contract = book.in_force(g.span.provider_org_id, g.span.line_of_business, g.end)
        rate = _rate(contract, g.span.tier)
        terms, rule = contract.terms, contract.proration
        quantity, unit, service_date = Decimal(1), rate, g.end
        if rule == "daily":
            amount = to_cents(rate * g.days / days_in_month)
            quantity = (Decimal(g.days) / days_in_month).quantize(QUANTITY, rounding=ROUND_HALF_UP)
        elif rule == "attributed_on_day":
            service_date = attribution_date(contract, month)
            if not g.start <= service_date <= g.end:
                continue
            amount = to_cents(rate)
        elif g is not last_segment:
            continue
        elif rule == "day_threshold" and month_days < (terms.threshold_days or 0):
            if first_month or terms.short_later_month == "partial":
                unit = (terms.partial_pmpm or {})[g.span.tier]
            amount = to_cents(unit)
        else:
            amount = to_cents(rate)
        lines.append(
            PmpmLine(
                member_id=member_id,
                provider_org_id=g.span.provider_org_id,
                tier=g.span.tier,
                service_date=service_date,
                quantity=quantity,
                unit_amount=unit,
                amount=amount,
                contract_id=contract.contract_id,
                contract_version=contract.version,
                source_event_ids=g.span.source_event_ids,
            )
        )
    return lines


def _rate(contract: Contract, tier: str) -> Decimal:
    if tier not in contract.pmpm:
        raise UnknownTier(tier, contract.pmpm)
    return contract.pmpm[tier]
