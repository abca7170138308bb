"""Contracts are data: loading, validation with clear errors, and choosing the one in force."""

from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest

from hearth_billing.contracts import ContractError, NoContract, UnknownTier, parse_contracts, read_contracts

PACKAGE_CONTRACTS = Path(__file__).resolve().parents[1] / "hearth_billing" / "contracts"

BASE = """
tiers = ["moderate", "high"]

[[contract]]
contract_id = "default"
version = 1
effective_from = 2026-01-01
provider_org_id = "*"
line_of_business = "*"
proration = "full_month"
assessment_fee = "325.00"

[contract.pmpm]
moderate = "400.00"
high = "600.00"
"""

ORG_CONTRACT = """
[[contract]]
contract_id = "org-a-medi-cal"
version = {version}
effective_from = {start}
{end}
provider_org_id = "org-a"
line_of_business = "medi_cal"
proration = "full_month"
assessment_fee = "300.00"

[contract.pmpm]
moderate = "{moderate}"
high = "650.00"
"""


def org_contract(version: int = 1, start: str = "2026-01-01", end: str = "", moderate: str = "450.00") -> str:
    end_line = f"effective_to = {end}" if end else ""
    return ORG_CONTRACT.format(version=version, start=start, end=end_line, moderate=moderate)


def reasons(error: ContractError) -> dict[str, str]:
    return {d["field"]: d["reason"] for d in error.detail}


def test_the_shipped_default_contract_pays_the_documented_rates():
    book = read_contracts(PACKAGE_CONTRACTS)
    contract = book.in_force("any-org", None, date(2026, 10, 5))
    assert contract.proration == "full_month"
    assert contract.assessment_fee == Decimal("325.00")
    assert contract.pmpm == {"moderate": Decimal("400.00"), "high": Decimal("600.00")}
    assert book.tiers == {"moderate", "high"}


def test_amounts_are_decimals_with_cents():
    book = parse_contracts({"c.toml": BASE})
    rate = book.contracts[0].pmpm["moderate"]
    assert isinstance(rate, Decimal) and str(rate) == "400.00"


def test_a_negative_rate_is_refused_naming_the_tier():
    with pytest.raises(ContractError) as caught:
        parse_contracts({"c.toml": BASE.replace('high = "600.00"', 'high = "-600.00"')})
    assert reasons(caught.value) == {"c.toml: contract[0].pmpm.high": "-600.00 is negative"}
    assert "pmpm.high" in caught.value.message


def test_a_rate_for_an_unknown_tier_is_refused_listing_the_known_tiers():
    text = BASE.replace('high = "600.00"', 'high = "600.00"\ngold = "900.00"')
    with pytest.raises(ContractError) as caught:
        parse_contracts({"c.toml": text})
    assert reasons(caught.value) == {
        "c.toml: contract[0].pmpm.gold": "unknown tier 'gold' (tiers: high, moderate)"
    }


def test_every_tier_of_the_catalogue_must_be_priced():
    with pytest.raises(ContractError) as caught:
        parse_contracts({"c.toml": BASE.replace('high = "600.00"', "")})
    assert "c.toml: contract[0].pmpm.high" in reasons(caught.value)


def test_a_float_amount_is_refused_because_it_has_already_lost_cents():
    with pytest.raises(ContractError) as caught:
        parse_contracts({"c.toml": BASE.replace('assessment_fee = "325.00"', "assessment_fee = 325.1")})
    assert "not float" in reasons(caught.value)["c.toml: contract[0].assessment_fee"]


def test_an_amount_with_fractions_of_a_cent_is_refused():
    with pytest.raises(ContractError) as caught:
        parse_contracts({"c.toml": BASE.replace('"400.00"', '"400.005"')})
    assert reasons(caught.value) == {
        "c.toml: contract[0].pmpm.moderate": "400.005 has more than two decimal places"
    }


def test_missing_and_unknown_fields_and_bad_dates_are_all_reported_at_once():
    text = BASE.replace('proration = "full_month"\n', "").replace(
        "effective_from = 2026-01-01",
        'effective_from = 2026-01-01\neffective_to = 2025-01-01\nrate_card = "x"',
    )
    with pytest.raises(ContractError) as caught:
        parse_contracts({"c.toml": text})
    assert reasons(caught.value) == {
        "c.toml: contract[0].proration": "is required",
        "c.toml: contract[0].rate_card": "is not a contract field",
    }
    with pytest.raises(ContractError) as caught:
        parse_contracts(
            {
                "c.toml": BASE.replace(
                    "effective_from = 2026-01-01", "effective_from = 2026-01-01\neffective_to = 2025-01-01"
                )
            }
        )
    assert reasons(caught.value) == {"c.toml: contract[0].effective_to": "is before effective_from"}


def test_an_unknown_proration_rule_is_refused_rather_than_paid_wrongly():
    assert (
        parse_contracts({"c.toml": BASE.replace('"full_month"', '"daily"')}).contracts[0].proration == "daily"
    )
    with pytest.raises(ContractError) as caught:
        parse_contracts({"c.toml": BASE.replace('"full_month"', '"weekly"')})
    assert "is not a proration rule" in reasons(caught.value)["c.toml: contract[0].proration"]


def test_invalid_toml_is_reported_with_its_file_name():
    with pytest.raises(ContractError) as caught:
        parse_contracts({"broken.toml": "tiers = ["})
    assert list(reasons(caught.value)) == ["broken.toml"]


def test_an_organizations_own_contract_wins_over_the_default():
    book = parse_contracts({"c.toml": BASE + org_contract()})
    assert book.in_force("org-a", "medi_cal", date(2026, 3, 1)).contract_id == "org-a-medi-cal"
    # another line of business or another organization falls back to the default
    assert book.in_force("org-a", "medicare", date(2026, 3, 1)).contract_id == "default"
    assert book.in_force("org-a", None, date(2026, 3, 1)).contract_id == "default"
    assert book.in_force("org-b", "medi_cal", date(2026, 3, 1)).contract_id == "default"


def test_a_new_version_takes_over_on_its_effective_date():
    text = BASE + org_contract(1, end="2026-06-30") + org_contract(2, start="2026-07-01", moderate="475.00")
    book = parse_contracts({"c.toml": text})
    assert book.in_force("org-a", "medi_cal", date(2026, 6, 30)).pmpm["moderate"] == Decimal("450.00")
    july = book.in_force("org-a", "medi_cal", date(2026, 7, 1))
    assert (july.version, july.pmpm["moderate"]) == (2, Decimal("475.00"))


def test_overlapping_versions_of_the_same_scope_are_refused():
    text = BASE + org_contract(1) + org_contract(2, start="2026-07-01")
    with pytest.raises(ContractError) as caught:
        parse_contracts({"c.toml": text})
    assert "org-a-medi-cal v2" in reasons(caught.value)
    assert "same days as org-a-medi-cal v1" in reasons(caught.value)["org-a-medi-cal v2"]


def test_a_version_declared_twice_is_refused():
    with pytest.raises(ContractError) as caught:
        parse_contracts({"a.toml": BASE, "b.toml": BASE})
    assert reasons(caught.value) == {"default v1": "is declared twice"}


def test_no_contract_in_force_is_a_clear_error():
    book = parse_contracts({"c.toml": BASE})
    with pytest.raises(NoContract, match="org-a .*on 2025-12-31"):
        book.in_force("org-a", None, date(2025, 12, 31))


def test_a_tier_no_contract_prices_is_refused():
    book = parse_contracts({"c.toml": BASE})
    book.check_tier("high")
    with pytest.raises(UnknownTier, match="'gold' is not priced"):
        book.check_tier("gold")


def test_the_fingerprint_ignores_the_end_date_but_not_the_rates():
    one = parse_contracts({"c.toml": BASE + org_contract()}).contracts[1]
    ended = parse_contracts({"c.toml": BASE + org_contract(end="2026-12-31")}).contracts[1]
    repriced = parse_contracts({"c.toml": BASE + org_contract(moderate="451.00")}).contracts[1]
    assert one.fingerprint == ended.fingerprint
    assert one.fingerprint != repriced.fingerprint
