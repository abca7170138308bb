"""The referral's state as the FHIR Task the referrer reads: the status table, and a Task that is
valid R4 with the guidance note only when goals of care were not discussed."""

from datetime import UTC, datetime

import pytest
from fhir.resources.R4B.bundle import Bundle

from hearth_referral.domain import Status
from hearth_referral.fhir_profile import load_fhir_profile
from hearth_referral.fhir_task import TrackedReferral, searchset, task, task_state

PROFILE = load_fhir_profile()
AT = datetime(2026, 10, 1, 9, tzinfo=UTC)


def tracked(status: Status = Status.RECEIVED, **changes) -> TrackedReferral:
    fields = {
        "task_id": "task-1",
        "service_request_id": "sr-1",
        "referral_id": "ref-1",
        "member_id": "M-1",
        "referrer_id": "npi:1234567893",
        "provider_org_id": "org-a",
        "status": status,
        "accepted_at": AT,
        "last_modified": AT,
        "needs_goals_of_care": False,
    }
    return TrackedReferral(**(fields | changes))


@pytest.mark.parametrize(
    ("status", "task_status", "business_status"),
    [
        (Status.RECEIVED, "received", "received"),
        (Status.TRIAGED, "accepted", "triaged"),
        (Status.OUTREACH, "in-progress", "outreach"),
        (Status.ASSESSMENT_SCHEDULED, "in-progress", "assessment-scheduled"),
        (Status.ASSESSED, "in-progress", "assessed"),
        (Status.ENROLLED, "completed", "enrolled"),
        (Status.DECLINED, "completed", "declined"),
        (Status.INELIGIBLE, "rejected", "ineligible"),
        (Status.UNABLE_TO_REACH, "completed", "unable-to-reach"),
        (Status.CLOSED, "completed", "closed"),
    ],
)
def test_each_referral_state_maps_to_its_task_status_and_business_status(
    status, task_status, business_status
):
    state = task_state(status, PROFILE)
    assert (state.status, state.business_status) == (task_status, business_status)
    answer = task(tracked(status), PROFILE)
    assert answer.status == task_status
    assert answer.businessStatus.coding[0].code == business_status
    assert answer.businessStatus.coding[0].system == PROFILE.business_status_system


def test_the_status_table_covers_exactly_the_referral_states():
    assert set(PROFILE.task_states) == {s.value for s in Status}


def test_a_task_names_the_service_request_the_member_and_the_referrer():
    answer = task(tracked(), PROFILE).model_dump(mode="json", exclude_none=True, by_alias=True)
    assert answer["basedOn"] == [{"reference": "ServiceRequest/sr-1", "type": "ServiceRequest"}]
    assert answer["focus"]["reference"] == "ServiceRequest/sr-1"
    assert answer["for"]["identifier"] == {"system": PROFILE.member_identifier_system, "value": "M-1"}
    assert answer["requester"]["identifier"]["value"] == "1234567893"
    assert answer["owner"]["identifier"]["value"] == "org-a"
    assert answer["identifier"][0]["value"] == "ref-1"
    assert "note" not in answer


def test_a_referral_without_a_goals_of_care_conversation_gets_the_static_guidance_note():
    answer = task(tracked(needs_goals_of_care=True), PROFILE)
    assert [n.text for n in answer.note] == [PROFILE.goals_of_care_guidance]
    assert "goals-of-care" in PROFILE.goals_of_care_guidance


def test_a_searchset_bundle_lists_each_task_with_its_full_url():
    found = searchset([task(tracked(), PROFILE)], "http://hearth")
    again = Bundle.model_validate(found.model_dump(mode="json", exclude_none=True, by_alias=True))
    assert (again.type, again.total) == ("searchset", 1)
    assert again.entry[0].fullUrl == "http://hearth/fhir/Task/task-1"
    assert searchset([], "http://hearth").total == 0
