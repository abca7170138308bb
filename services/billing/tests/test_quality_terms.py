"""The quality withhold and earn-back are contract data, validated at load."""

import pytest

from hearth_billing.contracts import ContractError, parse_contracts
from hearth_billing.late_changes import score_months

BASE = """
tiers = ["moderate"]
[[contract]]
contract_id = "plan"
version = 1
effective_from = 2026-01-01
provider_org_id = "*"
line_of_business = "*"
proration = "full_month"
assessment_fee = "325.00"
pmpm = {{ moderate = "400.00" }}
{terms}
"""


def reasons(terms: str) -> dict[str, str]:
    with pytest.raises(ContractError) as caught:
        parse_contracts({"c.toml": BASE.format(terms=terms)})
    return {d["field"].removeprefix("c.toml: contract[0]."): d["reason"] for d in caught.value.detail}


def test_earn_back_targets_are_read_per_measure_with_their_shares():
    terms = 'withhold_percent = "2.0"\n[contract.earn_back.surrogate_identified]\n"0.80" = "1.00"\n"0.60" = "0.50"'
    contract = parse_contracts({"c.toml": BASE.format(terms=terms)}).contracts[0]
    assert str(contract.terms.withhold_percent) == "2.0"
    assert [t.rule for t in contract.terms.earn_back] == [
        "surrogate_identified >= 0.60 earns 0.50 of the withhold",
        "surrogate_identified >= 0.80 earns 1.00 of the withhold",
    ]


def test_a_contract_without_quality_terms_withholds_nothing():
    contract = parse_contracts({"c.toml": BASE.format(terms="")}).contracts[0]
    assert contract.terms.withhold_percent == 0 and contract.terms.earn_back == ()


def test_earn_backs_that_could_pay_more_than_was_withheld_are_refused():
    terms = 'withhold_percent = "2.0"\n[contract.earn_back.a]\n"0.80" = "0.70"\n[contract.earn_back.b]\n"0.50" = "0.40"'
    assert reasons(terms) == {"earn_back": "the largest shares of all measures add up to 1.10, more than 1"}


def test_an_earn_back_without_a_withhold_is_refused():
    assert reasons('[contract.earn_back.a]\n"0.80" = "1.00"') == {
        "earn_back": "earns back a withhold: set withhold_percent"
    }


@pytest.mark.parametrize(
    ("terms", "field", "reason"),
    [
        ('withhold_percent = "101"', "withhold_percent", "101 is not between 0 and 100"),
        ("withhold_percent = 2.0", "withhold_percent", 'write it as a string such as "0.80", not float'),
        ('withhold_percent = "1.005"', "withhold_percent", "1.005 has more than 2 decimal places"),
        (
            'withhold_percent = "2"\n[contract.earn_back.a]\n"1.5" = "1.00"',
            "earn_back.a.1.5",
            "1.5 is not between 0 and 1",
        ),
    ],
)
def test_bad_quality_terms_are_refused_naming_the_field(terms: str, field: str, reason: str):
    assert reasons(terms) == {field: reason}


@pytest.mark.parametrize(
    ("period", "months"),
    [
        ("2026-10", ("2026-10", "2026-10")),
        ("2026-Q4", ("2026-10", "2026-12")),
        ("2027-Q1", ("2027-01", "2027-03")),
    ],
)
def test_a_score_period_covers_its_months(period: str, months: tuple[str, str]):
    assert score_months(period) == months
