"""What an assessment does to a member's enrolment, and disenrolment rules."""

from datetime import UTC, date, datetime
from typing import Any

import pytest

from hearth_eligibility.clinical import load_clinical_criteria
from hearth_eligibility.coverage import CoverageSpan
from hearth_eligibility.domain import (
    ChangeTier,
    Disenrol,
    DisenrolmentBeforeEnrolment,
    Enrol,
    Enrolment,
    NoChange,
    NotEnrolled,
    after_assessment,
    clinical_determination,
    coverage_determination,
)
from hearth_eligibility.tiers import load_tier_rules
from hearth_schemas import AssessmentCompleted

CRITERIA = load_clinical_criteria()
TIERS = load_tier_rules()
NOW = datetime(2026, 10, 5, 12, tzinfo=UTC)
OCT_5 = date(2026, 10, 5)


def assessment(**overrides: Any) -> AssessmentCompleted:
    fields: dict[str, Any] = {
        "assessment_id": "as-1",
        "referral_id": "ref-1",
        "member_id": "M-1",
        "provider_org_id": "org-assessing",
        "assessed_on": OCT_5,
        "mode": "in_person",
        "decision": "enrol",
        "age_years": 81,
        "primary_condition": "chf",
        "nyha_class": 4,
        "ejection_fraction": 22,
        "karnofsky": 50,
    }
    return AssessmentCompleted(**(fields | overrides))


def coverage(org: str | None = "org-attributed") -> CoverageSpan:
    return CoverageSpan("s1", "M-1", "plan-1", "medi_cal", "alameda", None, org, date(2026, 1, 1), None, NOW)


def enrolled(tier: str = "moderate", since: date = date(2026, 6, 1)) -> Enrolment:
    return Enrolment(
        "e-1",
        "M-1",
        "org-attributed",
        tier,
        since,
        since,
        since,
        "plan-1",
        "medi_cal",
        "alameda",
        "ref-0",
        "as-0",
        NOW,
    )


def decide(a: AssessmentCompleted, span: CoverageSpan | None = None, latest: Enrolment | None = None):
    facts = a.model_dump()
    return after_assessment(a, CRITERIA.evaluate(facts), TIERS.assign(facts), span, latest, at=NOW)


def test_eligible_consenting_covered_member_is_enrolled_with_the_attributed_organization():
    action = decide(assessment(), coverage())
    assert isinstance(action, Enrol)
    e = action.enrolment
    assert (e.provider_org_id, e.tier, e.effective_date, e.consent_on) == (
        "org-attributed",
        "moderate",
        OCT_5,
        OCT_5,
    )
    assert (e.line_of_business, e.market, e.referral_id, e.assessment_id) == (
        "medi_cal",
        "alameda",
        "ref-1",
        "as-1",
    )


def test_without_an_attributed_organization_the_assessing_one_is_used():
    action = decide(assessment(), coverage(org=None))
    assert isinstance(action, Enrol) and action.enrolment.provider_org_id == "org-assessing"


def test_low_performance_status_enrols_in_the_high_tier():
    action = decide(assessment(karnofsky=30), coverage())
    assert isinstance(action, Enrol) and action.enrolment.tier == "high"


@pytest.mark.parametrize(
    ("a", "span", "reason"),
    [
        (assessment(decision="decline"), coverage(), "member_declined"),
        (assessment(), None, "no_coverage_on_assessment_date"),
        (assessment(ejection_fraction=45), coverage(), "clinical_criteria_not_met"),
        (assessment(hospice_elected=True), coverage(), "clinical_criteria_not_met"),
    ],
)
def test_member_is_not_enrolled(a, span, reason):
    assert decide(a, span) == NoChange(reason)


def test_an_enrolled_member_is_not_enrolled_twice():
    assert decide(assessment(), coverage(), enrolled("moderate")) == NoChange("already_enrolled")


def test_reassessment_of_an_enrolled_member_changes_the_tier_from_the_assessment_date():
    e = enrolled("moderate")
    action = decide(assessment(assessment_id="as-2", karnofsky=30), coverage(), e)
    assert action == ChangeTier(e, "moderate", "high", OCT_5)
    assert (e.tier, e.tier_effective_date) == ("high", OCT_5)
    assert e.changes[-1]["kind"] == "tier_changed"


def test_a_stale_reassessment_does_not_move_the_tier_back_in_time():
    e = enrolled("moderate", since=date(2026, 11, 1))
    assert decide(assessment(karnofsky=30), coverage(), e) == NoChange("assessment_predates_current_tier")
    assert e.tier == "moderate"


def test_an_enrolled_adult_who_elects_hospice_is_disenrolled_from_the_assessment_date():
    e = enrolled()
    action = decide(assessment(hospice_elected=True), coverage(), e)
    assert action == Disenrol(e, "hospice_election", OCT_5)
    assert (e.ended_on, e.end_reason) == (OCT_5, "hospice_election")


def test_an_enrolled_child_who_elects_hospice_stays_enrolled():
    assert decide(assessment(age_years=12, hospice_elected=True), coverage(), enrolled()) == NoChange(
        "already_enrolled"
    )


def test_a_former_member_can_enrol_again_after_the_previous_enrolment_ended():
    previous = enrolled()
    previous.disenrol("member_choice", date(2026, 8, 1))
    assert isinstance(decide(assessment(), coverage(), previous), Enrol)


def test_disenrolment_may_be_retroactive_but_not_before_the_enrolment_began():
    e = enrolled(since=date(2026, 6, 1))
    with pytest.raises(DisenrolmentBeforeEnrolment) as refused:
        e.disenrol("death", date(2026, 5, 31))
    assert refused.value.detail[0]["field"] == "effective_date"
    e.disenrol("death", date(2026, 7, 15))
    assert (e.ended_on, e.end_reason, e.is_open) == (date(2026, 7, 15), "death", False)
    with pytest.raises(NotEnrolled):
        e.disenrol("death", date(2026, 7, 16))


def test_clinical_determination_carries_version_reasons_and_per_criterion_explanation():
    a = assessment()
    facts = a.model_dump()
    clinical, tier = CRITERIA.evaluate(facts), TIERS.assign(facts)
    action = after_assessment(a, clinical, tier, coverage(), None, at=NOW)
    d = clinical_determination(a, clinical, tier, coverage(), action, at=NOW)
    assert (d.stage, d.eligible, d.criteria_version, d.as_of) == ("clinical", True, "2026.1", OCT_5)
    assert d.reasons == ["pathway:adult", "hospice_not_elected:met", "chf:met", "enrolled"]
    assert d.provider_org_id == "org-attributed"
    assert d.explanation["criteria_results"][1]["values"] == {"nyha_class": 4, "ejection_fraction": 22}
    assert d.explanation["tier"]["tier"] == "moderate"


def test_clinically_eligible_member_without_coverage_is_not_eligible_and_says_why():
    a = assessment()
    facts = a.model_dump()
    clinical, tier = CRITERIA.evaluate(facts), TIERS.assign(facts)
    d = clinical_determination(
        a, clinical, tier, None, after_assessment(a, clinical, tier, None, None, at=NOW), at=NOW
    )
    assert not d.eligible and d.outcome == "eligible"
    assert d.reasons[-1] == "no_coverage_on_assessment_date"


def test_decline_is_reported_once():
    a = assessment(decision="decline")
    facts = a.model_dump()
    clinical, tier = CRITERIA.evaluate(facts), TIERS.assign(facts)
    d = clinical_determination(
        a, clinical, tier, coverage(), after_assessment(a, clinical, tier, coverage(), None, at=NOW), at=NOW
    )
    assert d.eligible and d.reasons.count("member_declined") == 1


def test_coverage_determination_on_the_referral_date():
    covered = coverage_determination(
        referral_id="r", member_id="M-1", referral_date=OCT_5, span=coverage(), at=NOW
    )
    assert (covered.eligible, covered.reasons, covered.provider_org_id) == (
        True,
        ["coverage_in_force"],
        "org-attributed",
    )
    uncovered = coverage_determination(
        referral_id="r", member_id="M-1", referral_date=OCT_5, span=None, at=NOW
    )
    assert (uncovered.eligible, uncovered.reasons) == (False, ["no_coverage_on_referral_date"])
