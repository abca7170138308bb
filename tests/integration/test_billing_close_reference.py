"""The close, which prices member-months by group in SQL (pricing_sql.py) and reads each member's
line back from what it saw (member_lines_sql.py), against the plain Python rules (proration.py)
member by member, on a random population full of edge cases: every proration rule, starts and ends
mid-month, tier changes, re-enrolments with another organization in the same month, a line of
business with a contract of its own. Then late changes to the closed month: its invoices must read
exactly as before, and the next month's lines must again match the rules on the changed spans.
"""

import random
from collections.abc import AsyncIterator
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from hearth_billing import handlers
from hearth_billing.periods import Month
from hearth_billing.proration import bill_month
from hearth_billing.repository import ContractRepository, LedgerRepository
from hearth_schemas import MemberDisenrolled, MemberEnrolled, TierChanged
from hearth_schemas.base import Event

from .stack import Stack
from .test_billing_rules import CONTRACTS, Billing, billing_with_contracts

ORGANIZATIONS = ("org-a", "org-attr", "org-thr", "org-daily", "org-wh")
OCTOBER, NOVEMBER = Month(2026, 10), Month(2026, 11)
# A line of business priced by a contract of its own (daily), whatever the organization's contract.
LOB_CONTRACT = """
[[contract]]
contract_id = "medicare-daily"
version = 1
effective_from = 2026-01-01
provider_org_id = "*"
line_of_business = "medicare"
proration = "daily"
assessment_fee = "325.00"
pmpm = { moderate = "410.00", high = "610.00" }
"""


@pytest.fixture
async def billing(stack: Stack, tmp_path: Path) -> AsyncIterator[Billing]:
    (tmp_path / "plan.toml").write_text(CONTRACTS + LOB_CONTRACT, encoding="utf-8")
    async for running in billing_with_contracts(stack, tmp_path):
        yield running


def day(month: Month, rng: random.Random) -> date:
    return month.first_day + timedelta(days=rng.randrange(month.last_day.day))


def population(rng: random.Random, members: int) -> list[Event]:
    """Each member's enrolment story, in the order eligibility would tell it."""
    events: list[Event] = []
    for n in range(members):
        member, org = f"P{n:04d}", rng.choice(ORGANIZATIONS)
        lob = rng.choice((None, None, "medi_cal", "medicare"))
        start = rng.choice((date(2026, 8, 1), date(2026, 9, 17), OCTOBER.first_day, day(OCTOBER, rng)))
        tier = rng.choice(("moderate", "high"))
        events.append(
            MemberEnrolled(
                enrollment_id=f"E-{member}",
                member_id=member,
                provider_org_id=org,
                tier=tier,
                effective_date=start,
                consent_on=start,
                line_of_business=lob,
            )
        )
        story = rng.random()
        if story < 0.2:
            changed = max(start + timedelta(days=1), day(OCTOBER, rng))
            other = "high" if tier == "moderate" else "moderate"
            events.append(
                TierChanged(
                    enrollment_id=f"E-{member}",
                    member_id=member,
                    provider_org_id=org,
                    from_tier=tier,
                    to_tier=other,
                    effective_date=min(changed, OCTOBER.last_day),
                )
            )
        elif story < 0.45:
            left = max(start + timedelta(days=1), day(OCTOBER, rng))
            events.append(_left(member, org, f"E-{member}", left))
            if story < 0.35 and left < OCTOBER.last_day - timedelta(days=2):
                back = left + timedelta(days=rng.randrange(1, (OCTOBER.last_day - left).days))
                events.append(
                    MemberEnrolled(
                        enrollment_id=f"E2-{member}",
                        member_id=member,
                        provider_org_id=rng.choice(ORGANIZATIONS),
                        tier=rng.choice(("moderate", "high")),
                        effective_date=back,
                        consent_on=back,
                        line_of_business=lob,
                    )
                )
    return events


def _left(member: str, org: str, enrollment_id: str, on: date) -> MemberDisenrolled:
    return MemberDisenrolled(
        enrollment_id=enrollment_id,
        member_id=member,
        provider_org_id=org,
        reason="goals_met",
        effective_date=on,
    )


def line_key(line: Any) -> tuple[Any, ...]:
    get = line.get if isinstance(line, dict) else lambda k: getattr(line, k)
    return (
        get("member_id"),
        get("provider_org_id"),
        get("tier"),
        get("service_date"),
        Decimal(get("quantity")),
        Decimal(get("unit_amount")),
        Decimal(get("amount")),
        get("contract_id"),
        get("contract_version"),
        tuple(get("source_event_ids")),
    )


async def invoiced(billing: Billing, month: Month) -> list[tuple[Any, ...]]:
    """Every PMPM line of the month's invoices, as the API reads them."""
    lines = []
    for listed in await handlers.invoices_view(billing.db, month, None):
        invoice = await handlers.invoice_view(billing.db, listed["invoice_id"])
        assert sum(line["amount"] for line in invoice["lines"]) == invoice["total_amount"]
        assert len(invoice["lines"]) == invoice["line_count"]
        org = invoice["provider_org_id"]
        lines += [
            line_key({**line, "provider_org_id": org}) for line in invoice["lines"] if line["kind"] == "pmpm"
        ]
    return sorted(lines)


async def by_the_rules(billing: Billing, month: Month, members: list[str]) -> list[tuple[Any, ...]]:
    async with billing.db.unit_of_work() as uow:
        book = await ContractRepository(uow.conn).book()
        timelines = await LedgerRepository(uow.conn).enrolments(members)
    return sorted(
        line_key(line) for m, t in timelines.items() for line in bill_month(m, t.spans, month, book)
    )


async def test_the_grouped_close_bills_every_member_as_the_rules_do_before_and_after_late_changes(
    billing: Billing,
):
    rng = random.Random(2026)
    events = population(rng, 400)
    await billing.deliver(*events)
    members = sorted({e.member_id for e in events})

    for earlier in (Month(2026, 8), Month(2026, 9)):
        await billing.close(str(earlier))
        assert await invoiced(billing, earlier) == await by_the_rules(billing, earlier, members)
    await billing.close(str(OCTOBER))
    october = await invoiced(billing, OCTOBER)
    assert october == await by_the_rules(billing, OCTOBER, members)
    assert {line[2] for line in october} == {"moderate", "high"}
    assert {line[7] for line in october} == {
        "any",
        "attributed",
        "threshold",
        "daily",
        "withhold",
        "medicare-daily",
    }

    # late changes to the closed month: retroactive disenrolments and tier changes
    late: list[Event] = []
    for member in rng.sample(members, 60):
        async with billing.db.unit_of_work() as uow:
            [timeline] = (await LedgerRepository(uow.conn).enrolments([member])).values()
        current = timeline.spans[-1]
        if current.end is not None:
            continue
        when = max(current.start, day(OCTOBER, rng))
        if rng.random() < 0.5:
            late.append(_left(member, current.provider_org_id, current.enrollment_id, when))
        else:
            other = "high" if current.tier == "moderate" else "moderate"
            late.append(
                TierChanged(
                    enrollment_id=current.enrollment_id,
                    member_id=member,
                    provider_org_id=current.provider_org_id,
                    from_tier=current.tier,
                    to_tier=other,
                    effective_date=when,
                )
            )
    await billing.deliver(*late)
    assert len(late) > 20
    assert await invoiced(billing, OCTOBER) == october, "a closed invoice reads as it was issued"

    await billing.close(str(NOVEMBER))
    assert await invoiced(billing, NOVEMBER) == await by_the_rules(billing, NOVEMBER, members)
    assert await invoiced(billing, OCTOBER) == october
