"""Incentives and DME handling are contract data, validated at load; DME requests are decided by
the contract in force for the member's organization on the service date."""

from datetime import date
from decimal import Decimal

import pytest

from hearth_billing.contracts import ContractError, parse_contracts
from hearth_billing.dme import Enrolled, decide

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
DME = """
[contract.dme]
E0250 = { handling = "allowance" }
E1390 = { handling = "pass_through", cap = "1500.00" }
"""


def reasons(terms: str) -> dict[str, str]:
    with pytest.raises(ContractError) as caught:
        parse_contracts({"c.toml": BASE.format(terms=terms)})
    return {d["field"].removeprefix("c.toml: contract[0]."): d["reason"] for d in caught.value.detail}


def test_incentive_targets_pay_an_amount_or_a_percent():
    terms = '[contract.incentive.surrogate_identified]\n"0.90" = { amount = "500.00" }\n"0.70" = { percent = "1.5" }'
    [contract] = parse_contracts({"c.toml": BASE.format(terms=terms)}).contracts
    assert [(str(t.target_rate), t.pays) for t in contract.terms.incentives] == [
        ("0.70", "1.5% of the period's PMPM"),
        ("0.90", "500.00"),
    ]


def test_an_incentive_must_pay_exactly_one_of_amount_or_percent():
    terms = (
        '[contract.incentive.m]\n"0.90" = { amount = "500.00", percent = "1" }\n"0.80" = { percent = "101" }'
    )
    assert reasons(terms) == {
        "incentive.m.0.90": 'must be { amount = "500.00" } or { percent = "1.5" }',
        "incentive.m.0.80": "101 is not between 0 and 100",
    }


def test_dme_terms_need_a_known_handling_and_a_cap_only_on_pass_through():
    terms = """
[contract.dme]
E0250 = { handling = "allowance", cap = "10.00" }
E1390 = { handling = "pass_through" }
E0260 = { handling = "rental" }
X12 = { handling = "allowance" }
"""
    assert reasons(terms) == {
        "dme.E0250": "a pass_through takes a cap; an allowance takes none",
        "dme.E1390": "a pass_through takes a cap; an allowance takes none",
        "dme.E0260": "handling must be one of allowance, pass_through",
        "dme.X12": "is not a HCPCS level II code (a letter and four digits, e.g. E0250)",
    }


def test_a_pass_through_cap_is_an_amount():
    assert reasons('[contract.dme]\nE1390 = { handling = "pass_through", cap = "-5.00" }') == {
        "dme.E1390.cap": "-5.00 is negative"
    }


BOOK = parse_contracts({"c.toml": BASE.format(terms=DME)})
AT_ORG = Enrolled("org-a", None)
DAY = date(2026, 10, 12)


def test_an_allowance_is_approved_inside_the_pmpm_and_not_billed():
    decision = decide(BOOK, "M1", "E0250", DAY, Decimal("2400.00"), AT_ORG)
    assert (decision.status, decision.billed_amount, decision.handling) == (
        "approved",
        Decimal("0.00"),
        "allowance",
    )
    assert (
        decision.reason == "E0250 is an allowance inside the PMPM of contract plan v1: not billed separately"
    )


def test_a_pass_through_is_billed_up_to_the_cap():
    under = decide(BOOK, "M1", "E1390", DAY, Decimal("1200.00"), AT_ORG)
    over = decide(BOOK, "M1", "E1390", DAY, Decimal("1800.00"), AT_ORG)
    assert (under.billed_amount, over.billed_amount) == (Decimal("1200.00"), Decimal("1500.00"))
    assert (
        over.reason
        == "E1390 passes through contract plan v1 up to 1500.00: billed 1500.00 of 1800.00 (capped)"
    )
    assert (over.provider_org_id, over.contract_id, over.contract_version) == ("org-a", "plan", 1)


def test_an_unknown_code_or_a_member_not_enrolled_is_refused_with_the_reason():
    unknown = decide(BOOK, "M1", "E0999", DAY, Decimal("100.00"), AT_ORG)
    assert (unknown.status, unknown.reason) == (
        "refused",
        "E0999 is not covered by contract plan v1 (covered: E0250, E1390)",
    )
    absent = decide(BOOK, "M1", "E0250", DAY, Decimal("100.00"), None)
    assert (absent.status, absent.reason, absent.billed_amount) == (
        "refused",
        "member M1 is not enrolled on 2026-10-12",
        None,
    )
