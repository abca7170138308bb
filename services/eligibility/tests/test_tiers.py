"""The shipped tier rules: high complexity on low performance status or a heavy symptom burden."""

import pytest

from hearth_eligibility.tiers import load_tier_rules

TIERS = load_tier_rules()


def test_shipped_tier_rules_are_versioned_with_moderate_as_default():
    assert (TIERS.version, TIERS.default) == ("2026.1", "moderate")


@pytest.mark.parametrize(
    ("findings", "tier"),
    [
        ({"karnofsky": 40}, "high"),
        ({"karnofsky": 50, "pps": 40}, "high"),
        ({"karnofsky": 60, "esas_total": 40}, "high"),
        ({"karnofsky": 50, "pps": 50, "esas_total": 39}, "moderate"),
        ({"karnofsky": 41}, "moderate"),
        ({}, "moderate"),  # missing data never raises a tier
    ],
)
def test_tier_assignment(findings, tier):
    assert TIERS.assign(findings).tier == tier


def test_assignment_explains_which_rule_decided_with_the_values_used():
    assignment = TIERS.assign({"karnofsky": 30, "pps": None, "esas_total": None})
    assert assignment.rules_version == "2026.1"
    assert assignment.explanation["tried"] == [
        {"tier": "high", "status": "met", "values": {"karnofsky": 30, "pps": None, "esas_total": None}}
    ]
