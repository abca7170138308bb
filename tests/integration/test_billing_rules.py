"""The billing rules through the real handlers and the real set-based close, amounts computed by
hand: each proration rule, late changes to a closed month, the quality withhold and its earn-back.

The billing service runs in-process on a database of its own, with contract files chosen by the
test, and events are handed to its handlers as the consumer would (the broker path is proven in
test_billing.py and test_billing_adjustments.py). So these tests may use any month and contract
without touching the shared stack's month closes.
"""

import json
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from hearth_billing import handlers
from hearth_billing.app import definition
from hearth_billing.periods import Month
from hearth_platform.cloudevents import Envelope, decode, new_envelope
from hearth_platform.db import Database
from hearth_platform.handlers import Received
from hearth_platform.migrations import upgrade
from hearth_platform.settings import Settings
from hearth_schemas import MemberDisenrolled, MemberEnrolled, PerformanceScored, TierChanged
from hearth_schemas.base import Event

from .stack import Stack


class Billing:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def deliver(self, *events: Event) -> list[Envelope]:
        """Each event in its own unit of work, through the handler the consumer would call."""
        envelopes = []
        for event in events:
            envelope = new_envelope(event, source="/test")
            handler = handlers.handlers.get(envelope.type)
            assert handler is not None, envelope.type
            async with self.db.unit_of_work() as uow:
                waiting = await handler.fn(uow, [Received(envelope, event)])
                assert not waiting, f"{envelope.type} was parked"
                await uow.commit()
            envelopes.append(envelope)
        return envelopes

    async def close(self, month: str) -> None:
        await handlers.close_month(self.db, Month.parse(month))

    async def invoice(self, month: str, org: str) -> dict[str, Any]:
        listed = await handlers.invoices_view(self.db, Month.parse(month), org)
        assert len(listed) == 1, listed
        return await handlers.invoice_view(self.db, listed[0]["invoice_id"])

    async def published(self) -> list[Envelope]:
        """Every event billing staged, as the relay would publish it (for a rebuild to read)."""
        async with self.db.unit_of_work() as uow:
            table = self.db.platform.outbox
            rows = await uow.conn.execute(table.select().order_by(table.c.id))
            return [
                decode(
                    r.aggregateid.encode(),
                    json.dumps(r.payload).encode(),
                    [(k, v.encode()) for k, v in r.headers.items()],
                )
                for r in rows
            ]

    async def outbox(self, event_type: str) -> list[dict[str, Any]]:
        async with self.db.unit_of_work() as uow:
            table = self.db.platform.outbox
            rows = await uow.conn.execute(
                table.select().where(table.c.type == event_type).order_by(table.c.id)
            )
            return [dict(r.payload) for r in rows]


async def billing_with_contracts(stack: Stack, directory: Path) -> AsyncIterator[Billing]:
    url = await stack.isolated_database()
    await upgrade(url, definition.schema, definition.migrations)
    db = Database(Settings(database_url=url), "billing", definition.platform)
    try:
        await handlers.load_contracts(db, directory)
        yield Billing(db)
    finally:
        await db.dispose()


def lines_of(invoice: dict[str, Any], *keys: str) -> list[tuple[Any, ...]]:
    return sorted(
        (tuple(str(line[k]) if line[k] is not None else None for k in keys) for line in invoice["lines"]),
        key=lambda t: tuple(x or "" for x in t),
    )


def total(invoice: dict[str, Any]) -> str:
    return str(invoice["total_amount"])


# Every organization without a contract of its own: the base of each scenario's contract file.
ANY_ORGANIZATION = """
tiers = ["moderate", "high"]

[[contract]]
contract_id = "any"
version = 1
effective_from = 2026-01-01
provider_org_id = "*"
line_of_business = "*"
proration = "full_month"
assessment_fee = "325.00"
pmpm = { moderate = "400.00", high = "600.00" }
"""

CONTRACTS = (
    ANY_ORGANIZATION
    + """
[[contract]]
contract_id = "attributed"
version = 1
effective_from = 2026-01-01
provider_org_id = "org-attr"
line_of_business = "*"
proration = "attributed_on_day"
attribution_day = 15
assessment_fee = "325.00"
pmpm = { moderate = "400.00", high = "600.00" }

[[contract]]
contract_id = "threshold"
version = 1
effective_from = 2026-01-01
provider_org_id = "org-thr"
line_of_business = "*"
proration = "day_threshold"
threshold_days = 15
short_later_month = "full"
assessment_fee = "325.00"
pmpm = { moderate = "400.00", high = "600.00" }
partial_pmpm = { moderate = "200.00", high = "300.00" }

[[contract]]
contract_id = "daily"
version = 1
effective_from = 2026-01-01
provider_org_id = "org-daily"
line_of_business = "*"
proration = "daily"
assessment_fee = "325.00"
pmpm = { moderate = "400.00", high = "600.00" }

[[contract]]
contract_id = "withhold"
version = 1
effective_from = 2026-01-01
provider_org_id = "org-wh"
line_of_business = "*"
proration = "full_month"
assessment_fee = "325.00"
withhold_percent = "2.0"
pmpm = { moderate = "400.00", high = "600.00" }

[contract.earn_back.surrogate_identified]
"0.80" = "1.00"
"0.60" = "0.50"
"""
)


@pytest.fixture
def contracts_dir(tmp_path: Path) -> Path:
    (tmp_path / "plan.toml").write_text(CONTRACTS, encoding="utf-8")
    return tmp_path


@pytest.fixture
async def billing(stack: Stack, contracts_dir: Path) -> AsyncIterator[Billing]:
    async for running in billing_with_contracts(stack, contracts_dir):
        yield running


def enrolled(member: str, org: str, tier: str, on: date) -> MemberEnrolled:
    return MemberEnrolled(
        enrollment_id=f"E-{member}",
        member_id=member,
        provider_org_id=org,
        tier=tier,
        effective_date=on,
        consent_on=on,
    )


def tier_changed(member: str, org: str, to_tier: str, on: date) -> TierChanged:
    return TierChanged(
        enrollment_id=f"E-{member}",
        member_id=member,
        provider_org_id=org,
        from_tier="moderate",
        to_tier=to_tier,
        effective_date=on,
    )


def disenrolled(member: str, org: str, on: date) -> MemberDisenrolled:
    return MemberDisenrolled(
        enrollment_id=f"E-{member}", member_id=member, provider_org_id=org, reason="death", effective_date=on
    )


def scored(period: str, rate: str | None, reported: bool) -> PerformanceScored:
    return PerformanceScored(
        score_id=f"S-{period}",
        provider_org_id="org-wh",
        measure_id="surrogate_identified",
        measure_version="1",
        period=period,
        numerator=7 if reported else 2,
        denominator=10 if reported else 3,
        rate=None if rate is None else Decimal(rate),
        reported=reported,
        computed_at=datetime(2026, 11, 2, tzinfo=UTC),
    )


async def test_each_proration_rule_bills_its_hand_computed_amounts(billing: Billing):
    await billing.deliver(
        enrolled("T3", "org-thr", "moderate", date(2026, 9, 1)),
        # attributed on the 15th: A1 holds "moderate" that day; A2 starts after it
        enrolled("A1", "org-attr", "moderate", date(2026, 10, 1)),
        tier_changed("A1", "org-attr", "high", date(2026, 10, 20)),
        enrolled("A2", "org-attr", "moderate", date(2026, 10, 16)),
        # threshold 15 days: T1 18..31 = 14 days, first month; T2 17..31 = 15 days; T3 leaves
        # after 9 days of a later month
        enrolled("T1", "org-thr", "moderate", date(2026, 10, 18)),
        enrolled("T2", "org-thr", "moderate", date(2026, 10, 17)),
        disenrolled("T3", "org-thr", date(2026, 10, 10)),
        # daily: 10..19 moderate, 20..31 high
        enrolled("D1", "org-daily", "moderate", date(2026, 10, 10)),
        tier_changed("D1", "org-daily", "high", date(2026, 10, 20)),
    )
    await billing.close("2026-09")
    await billing.close("2026-10")

    keys = ("member_id", "tier", "service_date", "quantity", "unit_amount", "amount")
    september = await billing.invoice("2026-09", "org-thr")
    assert lines_of(september, *keys) == [("T3", "moderate", "2026-09-30", "1.000000", "400.00", "400.00")]
    attributed = await billing.invoice("2026-10", "org-attr")
    assert lines_of(attributed, *keys) == [("A1", "moderate", "2026-10-15", "1.000000", "400.00", "400.00")]
    assert total(attributed) == "400.00"
    threshold = await billing.invoice("2026-10", "org-thr")
    assert lines_of(threshold, *keys) == [
        ("T1", "moderate", "2026-10-31", "1.000000", "200.00", "200.00"),
        ("T2", "moderate", "2026-10-31", "1.000000", "400.00", "400.00"),
        ("T3", "moderate", "2026-10-09", "1.000000", "400.00", "400.00"),
    ]
    assert total(threshold) == "1000.00"
    daily = await billing.invoice("2026-10", "org-daily")
    # 400.00 x 10/31 = 129.032258 -> 129.03; 600.00 x 12/31 = 232.258064 -> 232.26
    assert lines_of(daily, *keys) == [
        ("D1", "high", "2026-10-31", "0.387097", "600.00", "232.26"),
        ("D1", "moderate", "2026-10-19", "0.322581", "400.00", "129.03"),
    ]
    assert total(daily) == "361.29"
    closed = [m for m in await billing.outbox("hearth.billing.MonthClosed.v1") if m["month"] == "2026-10"]
    # A1, T1, T2, T3 and D1 (once, though paid in two lines)
    assert closed[0]["member_months"] == 5 and Decimal(closed[0]["total_amount"]) == Decimal("1761.29")


async def test_a_retroactive_disenrolment_after_close_is_reversed_on_the_next_invoice(billing: Billing):
    await billing.deliver(enrolled("M1", "org-a", "moderate", date(2026, 10, 1)))
    await billing.close("2026-10")
    october = await billing.invoice("2026-10", "org-a")
    assert total(october) == "400.00"

    [disenrolment] = await billing.deliver(disenrolled("M1", "org-a", date(2026, 10, 1)))
    await billing.close("2026-11")
    november = await billing.invoice("2026-11", "org-a")
    assert lines_of(november, "member_id", "kind", "tier", "adjusted_month", "amount", "reason") == [
        ("M1", "adjustment", "moderate", "2026-10", "-400.00", "retro_disenrolment")
    ]
    assert november["lines"][0]["source_event_ids"] == [disenrolment.id]
    assert total(november) == "-400.00"
    assert await billing.invoice("2026-10", "org-a") == october, "a closed invoice is never rewritten"
    [posted] = await billing.outbox("hearth.billing.AdjustmentPosted.v1")
    assert (posted["member_id"], posted["adjusted_month"], posted["posted_month"], posted["reason"]) == (
        "M1",
        "2026-10",
        "2026-11",
        "retro_disenrolment",
    )
    assert Decimal(posted["amount"]) == Decimal("-400.00") and posted["cause_event_ids"] == [disenrolment.id]

    await billing.close("2026-12")
    assert await handlers.invoices_view(billing.db, Month.parse("2026-12"), "org-a") == [], "reversed once"


async def test_a_late_tier_change_and_a_late_enrolment_are_corrected_on_the_next_invoice(billing: Billing):
    await billing.deliver(
        enrolled("M2", "org-a", "moderate", date(2026, 10, 1)),
        enrolled("M4", "org-a", "moderate", date(2026, 10, 1)),
    )
    await billing.close("2026-10")
    [_, _, raised, left] = await billing.deliver(
        tier_changed("M2", "org-a", "high", date(2026, 10, 20)),
        enrolled("M3", "org-a", "high", date(2026, 10, 5)),
        # two late changes to one member-month: high from the 10th, gone from the 20th
        tier_changed("M4", "org-a", "high", date(2026, 10, 10)),
        disenrolled("M4", "org-a", date(2026, 10, 20)),
    )
    await billing.close("2026-11")
    november = await billing.invoice("2026-11", "org-a")
    assert lines_of(november, "member_id", "kind", "tier", "adjusted_month", "amount", "reason") == [
        # full month: October is paid at the tier of its last day, now "high"
        ("M2", "adjustment", "high", "2026-10", "600.00", "late_tier_change"),
        ("M2", "adjustment", "moderate", "2026-10", "-400.00", "late_tier_change"),
        ("M2", "pmpm", "high", None, "600.00", None),
        ("M3", "adjustment", "high", "2026-10", "600.00", "late_enrolment"),
        ("M3", "pmpm", "high", None, "600.00", None),
        ("M4", "adjustment", "high", "2026-10", "600.00", "late_tier_change+retro_disenrolment"),
        ("M4", "adjustment", "moderate", "2026-10", "-400.00", "late_tier_change+retro_disenrolment"),
    ]
    assert total(november) == "2200.00"
    assert {tuple(line["source_event_ids"]) for line in november["lines"] if line["member_id"] == "M4"} == {
        tuple(sorted([raised.id, left.id]))
    }
    posted = {
        (p["member_id"], p["amount"], len(p["cause_event_ids"]))
        for p in await billing.outbox("hearth.billing.AdjustmentPosted.v1")
    }
    assert posted == {("M2", "200.00", 1), ("M3", "600.00", 1), ("M4", "200.00", 2)}


async def test_the_withhold_is_taken_at_close_and_earned_back_by_the_score_on_the_next_close(
    billing: Billing,
):
    await billing.deliver(
        enrolled("W1", "org-wh", "moderate", date(2026, 10, 1)),
        enrolled("W2", "org-wh", "moderate", date(2026, 10, 1)),
    )
    await billing.close("2026-10")
    keys = ("member_id", "kind", "quantity", "unit_amount", "amount", "reason")
    october = await billing.invoice("2026-10", "org-wh")
    # 2.0% of 800.00 = 16.00
    assert lines_of(october, *keys)[0] == (
        None,
        "withhold",
        "0.020000",
        "-800.00",
        "-16.00",
        "quality_withhold",
    )
    assert total(october) == "784.00"

    [score] = await billing.deliver(scored("2026-10", "0.7", reported=True))
    await billing.close("2026-11")
    november = await billing.invoice("2026-11", "org-wh")
    earned = next(line for line in november["lines"] if line["kind"] == "earn_back")
    # 0.70 meets the 0.60 target (not 0.80): half of the 16.00 withheld in October
    rule = "surrogate_identified rate 0.700000 >= 0.600000 earns 0.500000 of the withhold"
    assert (str(earned["unit_amount"]), str(earned["quantity"]), str(earned["amount"]), earned["reason"]) == (
        "16.00",
        "0.500000",
        "8.00",
        rule,
    )
    assert earned["source_event_ids"] == [score.id]
    assert {k: earned["detail"][k] for k in ("score_id", "measure_id", "period", "rate", "rule")} == {
        "score_id": "S-2026-10",
        "measure_id": "surrogate_identified",
        "period": "2026-10",
        "rate": "0.700000",
        "rule": rule,
    }
    assert total(november) == "792.00"  # 800.00 - 16.00 + 8.00

    # an unreported score (too few cases) earns nothing, and says so
    await billing.deliver(scored("2026-11", None, reported=False))
    await billing.close("2026-12")
    december = await billing.invoice("2026-12", "org-wh")
    earned = next(line for line in december["lines"] if line["kind"] == "earn_back")
    assert (str(earned["amount"]), earned["reason"]) == (
        "0.00",
        "surrogate_identified not reported: earns nothing",
    )
    assert total(december) == "784.00"
