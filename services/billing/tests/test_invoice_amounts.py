"""Money on invoices: each line rounded half-up to cents, totals the sum of the rounded lines."""

from datetime import UTC, date, datetime
from decimal import Decimal

import pytest

from hearth_billing.close import ClosedMonth, IssuedInvoice, invoice_total, line_amount
from hearth_billing.contracts import parse_contracts
from hearth_billing.ledger import accrue_assessment_fees
from hearth_billing.money import parse_amount
from hearth_schemas import AssessmentCompleted

D = Decimal


@pytest.mark.parametrize(
    ("quantity", "unit", "amount"),
    [
        (D("1"), D("400.00"), D("400.00")),
        (D("0.5"), D("0.01"), D("0.01")),  # half a cent rounds up, not to even
        (D("0.5"), D("0.03"), D("0.02")),  # 0.015 -> 0.02 (banker's rounding would give 0.02 too)
        (D("0.5"), D("0.05"), D("0.03")),  # 0.025 -> 0.03 (banker's rounding would give 0.02)
        (D("0.333333"), D("400.00"), D("133.33")),
        (D("-0.5"), D("0.05"), D("-0.03")),  # a reversal rounds away from zero, like SQL round()
    ],
)
def test_a_line_rounds_half_up_to_cents(quantity: Decimal, unit: Decimal, amount: Decimal):
    assert line_amount(quantity, unit) == amount


def test_the_invoice_total_is_the_sum_of_rounded_lines_not_the_rounded_sum():
    # three thirds of a 0.05 line: each rounds to 0.02, the total is 0.06 (not round(0.05))
    lines = [line_amount(D("1") / D("3"), D("0.05"))] * 3
    assert invoice_total(lines) == D("0.06")
    assert invoice_total([]) == D("0.00")


def test_one_organizations_invoice_adds_pmpm_and_fees():
    lines = [
        line_amount(D("1"), D("400.00")),
        line_amount(D("1"), D("325.00")),
        line_amount(D("1"), D("325.00")),
    ]
    assert invoice_total(lines) == D("1050.00")


def test_the_month_total_adds_the_invoices():
    closed = ClosedMonth(
        month="2026-10",
        closed_at=datetime(2026, 11, 2, tzinfo=UTC),
        invoices=(
            IssuedInvoice("i-1", "org-a", D("1050.00"), 3),
            IssuedInvoice("i-2", "org-b", D("600.00"), 1),
        ),
        member_months=2,
        created=True,
    )
    assert closed.total_amount == D("1650.00")


def test_contract_amounts_parse_to_cents():
    assert str(parse_amount("400")) == "400.00"
    for bad in ("abc", "NaN", "1e400000", "-1.00"):
        with pytest.raises(ValueError):
            parse_amount(bad)


def assessment(assessment_id: str, on: date, org: str = "org-a") -> AssessmentCompleted:
    return AssessmentCompleted(
        assessment_id=assessment_id,
        referral_id="R-1",
        member_id="M-1",
        provider_org_id=org,
        assessed_on=on,
        mode="in_person",
        decision="decline",
    )


def test_an_assessment_fee_is_accrued_once_per_assessment_from_the_contract_in_force():
    book = parse_contracts(
        {
            "c.toml": """
tiers = ["moderate"]
[[contract]]
contract_id = "old"
version = 1
effective_from = 2025-01-01
effective_to = 2025-12-31
provider_org_id = "*"
line_of_business = "*"
proration = "full_month"
assessment_fee = "300.00"
pmpm = { moderate = "400.00" }
[[contract]]
contract_id = "old"
version = 2
effective_from = 2026-01-01
provider_org_id = "*"
line_of_business = "*"
proration = "full_month"
assessment_fee = "325.00"
pmpm = { moderate = "400.00" }
"""
        }
    )
    fees = accrue_assessment_fees(
        book,
        [
            ("ev-1", assessment("A-1", date(2025, 12, 31))),
            ("ev-2", assessment("A-2", date(2026, 1, 1))),
            ("ev-3", assessment("A-1", date(2025, 12, 31))),
        ],
    )
    assert [(f.assessment_id, f.amount, f.contract_version, f.source_event_id) for f in fees] == [
        ("A-1", D("300.00"), 1, "ev-1"),
        ("A-2", D("325.00"), 2, "ev-2"),
    ]
