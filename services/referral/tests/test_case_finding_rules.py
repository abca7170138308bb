"""The case-finding rule set as data, and the guarantee that a candidate is never enrolled
without an assessment."""

from datetime import UTC, date, datetime

import pytest

from hearth_referral.case_finding import expand_codes, leading_condition, load_case_finding_rules, parse_rules
from hearth_referral.domain import IllegalTransition, Referral, Status

RULES = load_case_finding_rules()


def test_code_ranges_expand_to_every_prefix_in_between():
    assert expand_codes(["C77-C79", "K70.3"]) == ["C77", "C78", "C79", "K703"]
    assert len(expand_codes(["C00-C96"])) == 97


def test_the_rule_set_maps_domain_codes_to_condition_groups():
    assert RULES.diagnosis_prefixes["I50"] == ("condition:chf",)
    assert RULES.diagnosis_prefixes["C78"] == ("condition:cancer", "condition:metastatic_cancer")
    assert RULES.diagnosis_prefixes["Z515"] == ("marker:palliative_encounter",)
    assert RULES.version and RULES.threshold == 6 and RULES.window_months == 12


def test_a_referral_is_filed_under_its_heaviest_condition_group():
    assert leading_condition(RULES, ["parkinsons", "copd", "cancer"]) == "copd"
    assert leading_condition(RULES, []) is None


def test_a_utilization_rule_naming_an_unknown_signal_is_refused():
    doc = {
        "version": "x",
        "window_months": 12,
        "threshold": 1,
        "suppress": {"signals": [], "recent_statuses": [], "recent_days": 1},
        "signals": {},
        "utilization": {"falls": {"signals": ["falls"], "weight": 1}},
    }
    with pytest.raises(ValueError, match="unknown signals"):
        parse_rules(doc)


def test_an_algorithmic_candidate_cannot_be_enrolled_without_an_assessment():
    referral = Referral.receive(
        member_id="M-1",
        source="algorithm",
        referrer_id="case-finding",
        referral_date=date(2026, 11, 15),
        received_at=datetime.now(UTC),
        provider_org_id=None,
        goals_of_care_discussed=None,
        actor="case-finding/2026.11",
    )
    for step in (None, Status.TRIAGED, Status.OUTREACH, Status.ASSESSMENT_SCHEDULED):
        if step is not None:
            referral.status = step
        with pytest.raises(IllegalTransition):
            referral.move(Status.ENROLLED, at=datetime.now(UTC), actor="eligibility", reason="enrolled")
