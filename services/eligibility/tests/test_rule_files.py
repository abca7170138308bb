"""The rule language itself: three-valued logic, and rule files refused at load time when they
cannot be interpreted (so a typo stops the service at start-up, not at decision time)."""

import pytest

from hearth_eligibility.clinical import parse_clinical_criteria
from hearth_eligibility.rules import RuleError, Status, parse_rule
from hearth_eligibility.tiers import parse_tier_rules

MET = {"field": "x", "op": ">=", "value": 1}
UNMET = {"field": "x", "op": "<", "value": 1}
UNKNOWN = {"field": "missing", "op": "==", "value": 1}
FACTS = {"x": 1, "missing": None}


@pytest.mark.parametrize(
    ("kind", "parts", "expected"),
    [
        ("all", [MET, MET], Status.MET),
        ("all", [MET, UNKNOWN], Status.UNKNOWN),
        ("all", [UNKNOWN, UNMET], Status.UNMET),
        ("any", [UNMET, UNMET], Status.UNMET),
        ("any", [UNMET, UNKNOWN], Status.UNKNOWN),
        ("any", [UNKNOWN, MET], Status.MET),
    ],
)
def test_combinations_follow_three_valued_logic(kind, parts, expected):
    assert parse_rule({kind: parts}, "t").evaluate(FACTS).status is expected


def test_in_and_present_operators():
    assert (
        parse_rule({"field": "c", "op": "in", "value": ["chf", "copd"]}, "t").evaluate({"c": "copd"}).status
        is Status.MET
    )
    assert parse_rule({"field": "c", "op": "present"}, "t").evaluate({"c": None}).status is Status.UNMET


@pytest.mark.parametrize(
    "raw",
    [
        {"field": "x", "op": "~", "value": 1},
        {"field": "x", "op": "<"},
        {"field": "x", "op": "present", "value": 1},
        {"field": "x", "op": "in", "value": 3},
        {"all": []},
        {"field": "x", "op": "<", "value": 1, "any": [MET]},
        {"description": "no rule at all"},
    ],
)
def test_malformed_rules_are_refused(raw):
    with pytest.raises(RuleError):
        parse_rule(raw, "t")


def minimal_rule_set(**overrides):
    doc = {
        "name": "test",
        "version": "1",
        "pathways": [{"id": "adult", "general": ["g"]}],
        "general": {"g": {"field": "hospice_elected", "op": "==", "value": False}},
        "disease": {"chf": {"field": "nyha_class", "op": ">=", "value": 3}},
    }
    return doc | overrides


def test_a_minimal_rule_set_loads():
    criteria = parse_clinical_criteria(minimal_rule_set())
    assert criteria.version == "1"
    assert criteria.evaluate({"hospice_elected": False, "primary_condition": "chf", "nyha_class": 3}).eligible


def test_a_rule_naming_a_field_the_assessment_does_not_carry_is_refused():
    doc = minimal_rule_set(disease={"chf": {"field": "nyha", "op": ">=", "value": 3}})
    with pytest.raises(RuleError, match="nyha"):
        parse_clinical_criteria(doc)


def test_a_rule_set_needs_a_version_and_a_default_pathway():
    with pytest.raises(RuleError):
        parse_clinical_criteria(minimal_rule_set(version=None))
    gated = [{"id": "kids", "general": ["g"], "applies_when": {"field": "age_years", "op": "<", "value": 21}}]
    with pytest.raises(RuleError, match="default"):
        parse_clinical_criteria(minimal_rule_set(pathways=gated))


def test_a_pathway_naming_an_undefined_general_criterion_is_refused():
    with pytest.raises(RuleError, match="nope"):
        parse_clinical_criteria(minimal_rule_set(pathways=[{"id": "adult", "general": ["nope"]}]))


def test_tier_rules_need_a_default_and_known_fields():
    with pytest.raises(RuleError):
        parse_tier_rules({"name": "t", "version": "1", "tiers": []})
    with pytest.raises(RuleError, match="kps"):
        parse_tier_rules(
            {
                "name": "t",
                "version": "1",
                "default": "low",
                "tiers": [{"id": "high", "field": "kps", "op": "<", "value": 1}],
            }
        )
