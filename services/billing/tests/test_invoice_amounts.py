"""Money on invoices: each line rounded half-up to cents, totals the sum of the rounded lines."""

from datetime import UTC, date, datetime
from decimal import Decimal

import pytest

from hearth_billing.close import ClosedMonth, IssuedInvoice, invoice_total, line_amount
from hearth_billing.contracts import ContractError, parse_contracts
from hearth_billing.ledger import PaidFee, accrue_assessment_fees
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


WINDOWED = """
tiers = ["moderate"]
[[contract]]
contract_id = "w"
version = 1
effective_from = 2026-01-01
provider_org_id = "*"
line_of_business = "*"
proration = "full_month"
assessment_fee = "325.00"
assessment_fee_window_days = 180
pmpm = { moderate = "400.00" }
"""


def test_two_assessments_30_days_apart_inside_a_180_day_window_pay_one_fee():
    fees = accrue_assessment_fees(
        parse_contracts({"c.toml": WINDOWED}),
        [
            ("ev-1", assessment("A-1", date(2026, 10, 1))),
            ("ev-2", assessment("A-2", date(2026, 10, 31), org="org-b")),
        ],
    )
    assert [(f.assessment_id, f.amount, f.paid) for f in fees] == [
        ("A-1", D("325.00"), True),
        ("A-2", D("0.00"), False),
    ]
    assert fees[1].reason == (
        "fee already paid for assessment A-1 on 2026-10-01: at most once per 180 days (contract w v1)"
    )


def test_assessments_a_window_or_more_apart_are_each_paid_and_the_window_counts_from_paid_fees():
    paid_before = {"M-1": [PaidFee("A-0", date(2026, 1, 1))]}
    fees = accrue_assessment_fees(
        parse_contracts({"c.toml": WINDOWED}),
        [
            # 179 days after A-0: inside; 180 days after: outside, paid
            ("ev-1", assessment("A-1", date(2026, 6, 29))),
            ("ev-2", assessment("A-2", date(2026, 6, 30))),
            # 200 days after A-2: paid again
            ("ev-3", assessment("A-3", date(2027, 1, 16))),
        ],
        paid_before,
    )
    assert [(f.assessment_id, f.amount) for f in fees] == [
        ("A-1", D("0.00")),
        ("A-2", D("325.00")),
        ("A-3", D("325.00")),
    ]


def test_a_window_must_be_a_whole_number_of_days():
    with pytest.raises(ContractError) as caught:
        parse_contracts({"c.toml": WINDOWED.replace("= 180", "= 0")})
    assert caught.value.detail == [
        {
            "field": "c.toml: contract[0].assessment_fee_window_days",
            "reason": "must be a whole number of days from 1 to 3660",
        }
    ]
