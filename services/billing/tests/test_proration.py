"""The proration rules, each proven by amounts computed by hand (October 2026 has 31 days,
February 2026 has 28)."""

from datetime import date
from decimal import Decimal

import pytest

from hearth_billing.contracts import ContractBook, ContractError, parse_contracts
from hearth_billing.ledger import Span
from hearth_billing.periods import Month
from hearth_billing.proration import bill_month

D = Decimal
OCT = Month(2026, 10)
FEB = Month(2026, 2)


def book(proration: str, terms: str = "", moderate: str = "400.00") -> ContractBook:
    return parse_contracts(
        {
            "c.toml": f"""
tiers = ["moderate", "high"]
[[contract]]
contract_id = "plan"
version = 1
effective_from = 2026-01-01
provider_org_id = "*"
line_of_business = "*"
proration = "{proration}"
assessment_fee = "325.00"
{terms}
pmpm = {{ moderate = "{moderate}", high = "600.00" }}
"""
        }
    )


ATTRIBUTED = book("attributed_on_day", "attribution_day = 15")
THRESHOLD = book(
    "day_threshold",
    'threshold_days = 15\nshort_later_month = "full"\npartial_pmpm = { moderate = "200.00", high = "300.00" }',
)
THRESHOLD_PARTIAL_LATER = book(
    "day_threshold",
    'threshold_days = 15\nshort_later_month = "partial"\npartial_pmpm = { moderate = "200.00", high = "300.00" }',
)
DAILY = book("daily")


def span(start: date, end: date | None, tier: str = "moderate", org: str = "org-a") -> Span:
    return Span("E-1", org, tier, None, start, end, (f"ev-{start.isoformat()}",))


def paid(lines) -> list[tuple[str, str, date, Decimal]]:
    return [(ln.provider_org_id, ln.tier, ln.service_date, ln.amount) for ln in lines]


def test_attributed_on_day_pays_the_organization_holding_the_member_on_that_day():
    whole = [span(date(2026, 10, 1), None)]
    assert paid(bill_month("M", whole, OCT, ATTRIBUTED)) == [
        ("org-a", "moderate", date(2026, 10, 15), D("400.00"))
    ]
    moved = [span(date(2026, 10, 1), date(2026, 10, 10)), span(date(2026, 10, 11), None, org="org-b")]
    assert paid(bill_month("M", moved, OCT, ATTRIBUTED)) == [
        ("org-b", "moderate", date(2026, 10, 15), D("400.00"))
    ]


def test_attributed_on_day_pays_nobody_when_the_member_is_not_enrolled_that_day():
    assert bill_month("M", [span(date(2026, 10, 16), None)], OCT, ATTRIBUTED) == []
    assert bill_month("M", [span(date(2026, 9, 1), date(2026, 10, 14))], OCT, ATTRIBUTED) == []


def test_attributed_on_day_pays_the_tier_held_on_that_day():
    before = [span(date(2026, 10, 1), date(2026, 10, 19)), span(date(2026, 10, 20), None, "high")]
    assert paid(bill_month("M", before, OCT, ATTRIBUTED))[0][1:] == (
        "moderate",
        date(2026, 10, 15),
        D("400.00"),
    )
    after = [span(date(2026, 10, 1), date(2026, 10, 9)), span(date(2026, 10, 10), None, "high")]
    assert paid(bill_month("M", after, OCT, ATTRIBUTED))[0][1:] == ("high", date(2026, 10, 15), D("600.00"))


def test_an_attribution_day_past_the_end_of_a_short_month_is_its_last_day():
    late = book("attributed_on_day", "attribution_day = 30")
    assert paid(bill_month("M", [span(date(2026, 2, 1), None)], FEB, late))[0][2] == date(2026, 2, 28)


def test_day_threshold_pays_the_full_rate_from_the_threshold_and_the_partial_rate_below_in_the_first_month():
    fifteen = [span(date(2026, 10, 17), None)]  # 17..31 = 15 days
    assert paid(bill_month("M", fifteen, OCT, THRESHOLD))[0][3] == D("400.00")
    fourteen = [span(date(2026, 10, 18), None)]  # 18..31 = 14 days
    lines = bill_month("M", fourteen, OCT, THRESHOLD)
    assert [(ln.unit_amount, ln.amount) for ln in lines] == [(D("200.00"), D("200.00"))]


def test_day_threshold_a_short_later_month_pays_what_the_contract_says():
    leaves = [span(date(2026, 9, 1), date(2026, 10, 9))]  # 9 days in October, not the first month
    assert paid(bill_month("M", leaves, OCT, THRESHOLD)) == [
        ("org-a", "moderate", date(2026, 10, 9), D("400.00"))
    ]
    assert paid(bill_month("M", leaves, OCT, THRESHOLD_PARTIAL_LATER))[0][3] == D("200.00")


def test_day_threshold_counts_days_across_a_tier_change_and_pays_the_last_days_tier():
    # 18..24 moderate (7 days) + 25..31 high (7 days) = 14 days: the partial rate of "high"
    spans = [span(date(2026, 10, 18), date(2026, 10, 24)), span(date(2026, 10, 25), None, "high")]
    assert paid(bill_month("M", spans, OCT, THRESHOLD)) == [
        ("org-a", "high", date(2026, 10, 31), D("300.00"))
    ]
    # 10..19 moderate + 20..31 high = 22 days: the full rate of "high"
    spans = [span(date(2026, 10, 10), date(2026, 10, 19)), span(date(2026, 10, 20), None, "high")]
    assert paid(bill_month("M", spans, OCT, THRESHOLD))[0][1:] == ("high", date(2026, 10, 31), D("600.00"))


def test_daily_prorates_by_enrolled_days_and_rounds_each_line_half_up():
    lines = bill_month("M", [span(date(2026, 10, 10), None)], OCT, DAILY)
    # 400.00 x 22 / 31 = 283.870967... -> 283.87
    assert [(ln.quantity, ln.amount) for ln in lines] == [(D("0.709677"), D("283.87"))]
    assert paid(bill_month("M", [span(date(2026, 1, 1), None)], OCT, DAILY))[0][3] == D("400.00")
    # 400.10 x 7 / 28 = 100.025 exactly: half-up gives 100.03 where banker's rounding gives 100.02
    week = bill_month("M", [span(date(2026, 2, 22), None)], FEB, book("daily", moderate="400.10"))
    assert week[0].amount == D("100.03")


def test_daily_pays_each_tier_for_its_own_days():
    spans = [span(date(2026, 10, 10), date(2026, 10, 19)), span(date(2026, 10, 20), None, "high")]
    # moderate 400.00 x 10/31 = 129.032258 -> 129.03; high 600.00 x 12/31 = 232.258064 -> 232.26
    assert paid(bill_month("M", spans, OCT, DAILY)) == [
        ("org-a", "moderate", date(2026, 10, 19), D("129.03")),
        ("org-a", "high", date(2026, 10, 31), D("232.26")),
    ]


def test_full_month_still_pays_one_whole_month_at_the_last_days_tier():
    spans = [
        span(date(2026, 10, 10), date(2026, 10, 19)),
        span(date(2026, 10, 20), date(2026, 10, 22), "high"),
    ]
    assert paid(bill_month("M", spans, OCT, book("full_month"))) == [
        ("org-a", "high", date(2026, 10, 22), D("600.00"))
    ]


@pytest.mark.parametrize(
    ("proration", "terms", "field", "reason"),
    [
        ("attributed_on_day", "", "attribution_day", "is required by proration = 'attributed_on_day'"),
        (
            "attributed_on_day",
            "attribution_day = 0",
            "attribution_day",
            "must be a whole number of days from 1 to 31",
        ),
        (
            "daily",
            "attribution_day = 15",
            "attribution_day",
            "applies only to proration = 'attributed_on_day'",
        ),
        (
            "full_month",
            "threshold_days = 15",
            "threshold_days",
            "applies only to proration = 'day_threshold'",
        ),
        (
            "day_threshold",
            'threshold_days = 15\nshort_later_month = "full"\npartial_pmpm = { moderate = "200.00" }',
            "partial_pmpm.high",
            "has no partial rate: every tier must be priced",
        ),
        (
            "day_threshold",
            'threshold_days = 15\nshort_later_month = "never"\npartial_pmpm = { moderate = "1.00", high = "1.00" }',
            "short_later_month",
            "must be one of full, partial",
        ),
        (
            "day_threshold",
            'threshold_days = 15\nshort_later_month = "full"\npartial_pmpm = { moderate = "-1.00", high = "1.00" }',
            "partial_pmpm.moderate",
            "-1.00 is negative",
        ),
    ],
)
def test_rule_parameters_are_required_by_their_rule_and_refused_elsewhere(proration, terms, field, reason):
    with pytest.raises(ContractError) as caught:
        book(proration, terms)
    assert {d["field"]: d["reason"] for d in caught.value.detail} == {f"c.toml: contract[0].{field}": reason}
