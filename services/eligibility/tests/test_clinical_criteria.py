"""The shipped Medi-Cal SB 1004 rule set through the evaluator: every disease path met, unmet and
unknown, the under-21 pathway, hospice election, and the explanation carried with each verdict."""

from typing import Any

import pytest

from hearth_eligibility.clinical import ClinicalOutcome, load_clinical_criteria
from hearth_eligibility.rules import Status

CRITERIA = load_clinical_criteria()


def adult(condition: str | None, **findings: Any) -> dict[str, Any]:
    return {"age_years": 74, "hospice_elected": False, "primary_condition": condition, **findings}


def status_of(facts: dict[str, Any], criterion: str) -> Status:
    decision = CRITERIA.evaluate(facts)
    return next(r.status for r in decision.results if r.id == criterion)


def test_shipped_rule_set_is_versioned_and_names_only_assessment_fields():
    assert CRITERIA.name == "medi_cal_sb1004"
    assert CRITERIA.version == "2026.1"
    assert set(CRITERIA.disease) == {"chf", "copd", "cancer", "liver"}
    assert [p.id for p in CRITERIA.pathways] == ["under_21", "adult"]


@pytest.mark.parametrize(
    ("condition", "findings", "expected"),
    [
        ("chf", {"nyha_class": 3, "ejection_fraction": 29}, Status.MET),
        ("chf", {"nyha_class": 4, "ejection_fraction": 22}, Status.MET),
        ("chf", {"nyha_class": 2, "ejection_fraction": 20}, Status.UNMET),
        ("chf", {"nyha_class": 4, "ejection_fraction": 30}, Status.UNMET),
        ("chf", {"nyha_class": 4}, Status.UNKNOWN),
        ("chf", {"nyha_class": 2}, Status.UNMET),  # unmet whatever the missing EF says
        ("copd", {"fev1_percent": 30, "oxygen_lpm": 2.0}, Status.MET),
        ("copd", {"oxygen_lpm": 3.0}, Status.MET),  # 3 L/min or more qualifies without FEV1
        ("copd", {"fev1_percent": 40, "oxygen_lpm": 2.0}, Status.UNMET),
        ("copd", {"fev1_percent": 30}, Status.UNKNOWN),
        ("copd", {}, Status.UNKNOWN),
        ("cancer", {"cancer_stage": 4, "karnofsky": 70}, Status.MET),
        ("cancer", {"cancer_stage": 3, "karnofsky": 80, "failed_therapy_lines": 2}, Status.MET),
        ("cancer", {"cancer_stage": 2, "karnofsky": 40}, Status.UNMET),
        ("cancer", {"cancer_stage": 4, "karnofsky": 80, "failed_therapy_lines": 1}, Status.UNMET),
        ("cancer", {"cancer_stage": 4, "karnofsky": 80}, Status.UNKNOWN),
        ("cancer", {"karnofsky": 50}, Status.UNKNOWN),
        ("liver", {"albumin": 2.8, "inr": 1.5}, Status.MET),
        ("liver", {"meld": 20}, Status.MET),
        ("liver", {"albumin": 3.0, "inr": 1.5, "meld": 19}, Status.UNMET),
        ("liver", {"albumin": 2.5, "inr": 1.3, "meld": 12}, Status.UNMET),
        ("liver", {"albumin": 2.5, "inr": 1.3}, Status.UNKNOWN),  # MELD could still qualify
    ],
)
def test_disease_specific_criteria(condition, findings, expected):
    assert status_of(adult(condition, **findings), condition) is expected


def test_adult_meeting_a_disease_criterion_and_not_in_hospice_is_eligible():
    decision = CRITERIA.evaluate(adult("chf", nyha_class=4, ejection_fraction=22))
    assert decision.eligible and decision.outcome is ClinicalOutcome.ELIGIBLE
    assert decision.pathway.id == "adult"
    assert decision.reasons == ["pathway:adult", "hospice_not_elected:met", "chf:met"]
    assert decision.criteria_version == "2026.1"


def test_missing_data_is_insufficient_not_ineligible_and_names_the_missing_fields():
    decision = CRITERIA.evaluate(adult("chf", nyha_class=4))
    assert not decision.eligible
    assert decision.outcome is ClinicalOutcome.INSUFFICIENT_DATA
    chf = decision.explanation()["criteria_results"][-1]
    assert chf["status"] == "unknown"
    assert chf["values"] == {"nyha_class": 4, "ejection_fraction": None}
    assert chf["missing"] == ["ejection_fraction"]


def test_explanation_shows_each_comparison_with_threshold_and_actual_value():
    decision = CRITERIA.evaluate(adult("copd", fev1_percent=40, oxygen_lpm=2.0))
    copd = decision.explanation()["criteria_results"][-1]
    assert copd["status"] == "unmet"
    low_fev1 = copd["rule"]["any"][0]["all"][0]
    assert low_fev1 == {"field": "fev1_percent", "op": "<", "value": 35, "actual": 40, "status": "unmet"}


def test_adult_who_elected_hospice_is_not_eligible_even_when_the_disease_criterion_is_met():
    decision = CRITERIA.evaluate(adult("chf", nyha_class=4, ejection_fraction=22, hospice_elected=True))
    assert decision.outcome is ClinicalOutcome.INELIGIBLE
    assert "hospice_not_elected:unmet" in decision.reasons
    assert decision.pathway.hospice_election_disenrols


def test_condition_without_criteria_in_the_rule_set_is_unmet_with_the_reason():
    decision = CRITERIA.evaluate(adult("dementia"))
    assert decision.outcome is ClinicalOutcome.INELIGIBLE
    assert decision.reasons[-1] == "disease_specific:unmet"
    assert "dementia" in decision.results[-1].description


def test_adult_without_a_recorded_condition_is_insufficient_data():
    decision = CRITERIA.evaluate(adult(None))
    assert decision.outcome is ClinicalOutcome.INSUFFICIENT_DATA
    assert decision.reasons[-1] == "disease_specific:unknown"


def test_under_21_follow_the_broader_pathway_without_adult_thresholds():
    decision = CRITERIA.evaluate({"age_years": 9, "primary_condition": "other", "hospice_elected": False})
    assert decision.eligible
    assert decision.reasons == ["pathway:under_21", "serious_condition_documented:met"]


def test_under_21_in_hospice_stay_eligible_for_concurrent_care():
    decision = CRITERIA.evaluate({"age_years": 15, "primary_condition": "cancer", "hospice_elected": True})
    assert decision.eligible
    assert not decision.pathway.hospice_election_disenrols


def test_under_21_without_a_documented_condition_is_not_eligible():
    decision = CRITERIA.evaluate({"age_years": 15, "primary_condition": None, "hospice_elected": False})
    assert decision.outcome is ClinicalOutcome.INELIGIBLE


def test_the_21st_birthday_moves_a_member_to_the_adult_pathway():
    assert CRITERIA.evaluate(adult("other", age_years=20)).pathway.id == "under_21"
    assert CRITERIA.evaluate(adult("other", age_years=21)).pathway.id == "adult"


def test_unknown_age_follows_the_stricter_adult_pathway():
    assert CRITERIA.evaluate(adult("chf", age_years=None)).pathway.id == "adult"
