"""The quarterback's moves on the referral aggregate: each records who and why, the state machine
refuses what it does not allow, and close reasons are data."""

from datetime import UTC, date, datetime

import pytest

from hearth_platform.errors import Conflict, Invalid
from hearth_referral.domain import Referral, Status
from hearth_referral.quarterback import load_lifecycle_rules

AT = datetime(2026, 10, 2, 9, tzinfo=UTC)


def referral() -> Referral:
    r = Referral.receive(
        member_id="M-1",
        source="ehr",
        referrer_id="npi:1",
        referral_date=date(2026, 10, 1),
        received_at=AT,
        provider_org_id=None,
        goals_of_care_discussed=None,
        actor="npi:1",
    )
    r.new_transitions.clear()
    return r


def test_triage_outreach_and_scheduling_record_who_and_why():
    r = referral()
    r.triage(coordinator_id="coord-1", provider_org_id="org-a", at=AT, actor="lead-1")
    r.start_outreach(at=AT, actor="coord-1")
    r.schedule_assessment(scheduled_for=date(2026, 10, 9), mode="video", at=AT, actor="coord-1")
    assert r.status is Status.ASSESSMENT_SCHEDULED
    assert (r.coordinator_id, r.provider_org_id) == ("coord-1", "org-a")
    assert (r.assessment_scheduled_for, r.assessment_mode) == (date(2026, 10, 9), "video")
    assert [(t.from_status, t.to_status, t.actor) for t in r.new_transitions] == [
        (Status.RECEIVED, Status.TRIAGED, "lead-1"),
        (Status.TRIAGED, Status.OUTREACH, "coord-1"),
        (Status.OUTREACH, Status.ASSESSMENT_SCHEDULED, "coord-1"),
    ]
    assert r.new_transitions[0].reason == "assigned to coordinator coord-1"
    assert r.new_transitions[2].reason == "assessment (video) scheduled for 2026-10-09"


def test_outreach_before_triage_is_an_illegal_transition_with_the_reason():
    with pytest.raises(Conflict) as refused:
        referral().start_outreach(at=AT, actor="coord-1")
    assert refused.value.message == (
        "a referral in status 'received' cannot move to 'outreach'; "
        "allowed next: assessed, closed, ineligible, triaged"
    )


def test_an_assessment_cannot_be_scheduled_before_the_referral_date():
    r = referral()
    r.triage(coordinator_id="coord-1", provider_org_id=None, at=AT, actor="coord-1")
    with pytest.raises(Invalid):
        r.schedule_assessment(scheduled_for=date(2026, 9, 30), mode="phone", at=AT, actor="coord-1")
    assert r.status is Status.TRIAGED


def test_unable_to_reach_needs_an_outreach_first_but_closed_is_allowed_from_any_open_state():
    r = referral()
    with pytest.raises(Conflict):
        r.close(outcome=Status.UNABLE_TO_REACH, reason_code="no_answer_after_attempts", at=AT, actor="c")
    r.close(outcome=Status.CLOSED, reason_code="duplicate_referral", at=AT, actor="coord-1")
    assert r.status is Status.CLOSED and r.new_transitions[-1].reason == "duplicate_referral"
    with pytest.raises(Conflict):
        r.close(outcome=Status.CLOSED, reason_code="duplicate_referral", at=AT, actor="coord-1")


def test_closing_as_enrolled_is_not_a_quarterback_move():
    with pytest.raises(Invalid):
        referral().close(outcome=Status.ENROLLED, reason_code="x", at=AT, actor="coord-1")


def test_close_reason_codes_are_versioned_data_for_each_outcome():
    rules = load_lifecycle_rules()
    assert rules.version
    assert set(rules.close_reasons) == {"unable_to_reach", "closed"}
    assert "no_answer_after_attempts" in rules.close_reasons["unable_to_reach"]
