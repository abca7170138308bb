"""The initial-assessment fee is paid at most once per member per the contract's window, across
months and organizations, through the real handlers and the real close on a database of its own
(see test_billing_rules.py): amounts computed by hand from the contract below."""

from collections.abc import AsyncIterator
from datetime import date
from pathlib import Path

import pytest

from hearth_billing import handlers
from hearth_billing.api import MemberLedgerOut

from .stack import Stack
from .test_billing import assessed
from .test_billing_rules import Billing, billing_with_contracts, lines_of, total

WINDOW_CONTRACT = """
tiers = ["moderate", "high"]

[[contract]]
contract_id = "windowed"
version = 1
effective_from = 2026-01-01
provider_org_id = "*"
line_of_business = "*"
proration = "full_month"
assessment_fee = "325.00"
assessment_fee_window_days = 180
pmpm = { moderate = "400.00", high = "600.00" }
"""


@pytest.fixture
async def billing(stack: Stack, tmp_path: Path) -> AsyncIterator[Billing]:
    (tmp_path / "plan.toml").write_text(WINDOW_CONTRACT, encoding="utf-8")
    async for running in billing_with_contracts(stack, tmp_path):
        yield running


async def test_a_second_assessment_inside_the_window_is_not_paid_again_even_by_another_organization(
    billing: Billing,
):
    await billing.deliver(
        # 30 days apart, two organizations: one fee
        assessed("X", "org-a", date(2026, 10, 1), "A-X1"),
        assessed("X", "org-b", date(2026, 10, 31), "A-X2"),
        # 30 days apart across a month end: one fee
        assessed("Z", "org-a", date(2026, 10, 20), "A-Z1"),
        assessed("Z", "org-a", date(2026, 11, 19), "A-Z2"),
        # 200 days apart: outside the window, two fees
        assessed("Y", "org-a", date(2026, 10, 1), "A-Y1"),
    )
    await billing.deliver(assessed("Y", "org-a", date(2027, 4, 19), "A-Y2"))
    await billing.close("2026-10")
    await billing.close("2026-11")
    await billing.close("2027-04")

    keys = ("member_id", "kind", "service_date", "amount", "reason")
    october_a = await billing.invoice("2026-10", "org-a")
    assert lines_of(october_a, *keys) == [
        ("X", "assessment_fee", "2026-10-01", "325.00", None),
        ("Y", "assessment_fee", "2026-10-01", "325.00", None),
        ("Z", "assessment_fee", "2026-10-20", "325.00", None),
    ]
    assert total(october_a) == "975.00"
    october_b = await billing.invoice("2026-10", "org-b")
    why = (
        "fee already paid for assessment A-X1 on 2026-10-01: at most once per 180 days (contract windowed v1)"
    )
    assert lines_of(october_b, *keys) == [("X", "assessment_fee", "2026-10-31", "0.00", why)]
    assert total(october_b) == "0.00"
    november = await billing.invoice("2026-11", "org-a")
    assert [(line["member_id"], str(line["amount"])) for line in november["lines"]] == [("Z", "0.00")]
    april = await billing.invoice("2027-04", "org-a")
    assert lines_of(april, *keys) == [("Y", "assessment_fee", "2027-04-19", "325.00", None)]

    ledger = MemberLedgerOut.model_validate(await handlers.member_ledger_view(billing.db, "X"))
    assert [(f.assessment_id, str(f.amount), f.reason) for f in ledger.assessment_fees] == [
        ("A-X1", "325.00", None),
        ("A-X2", "0.00", why),
    ]
    accrued = await billing.outbox("hearth.billing.AssessmentFeeAccrued.v1")
    assert sorted(a["assessment_id"] for a in accrued) == ["A-X1", "A-Y1", "A-Y2", "A-Z1"]


async def test_an_earlier_assessment_arriving_late_inside_the_window_of_a_paid_one_is_not_paid(
    billing: Billing,
):
    await billing.deliver(
        assessed("L", "org-a", date(2026, 10, 25), "A-L2"),
        assessed("L", "org-a", date(2026, 10, 5), "A-L1"),
    )
    await billing.close("2026-10")
    october = await billing.invoice("2026-10", "org-a")
    assert lines_of(october, "member_id", "service_date", "amount") == [
        ("L", "2026-10-05", "0.00"),
        ("L", "2026-10-25", "325.00"),
    ]
