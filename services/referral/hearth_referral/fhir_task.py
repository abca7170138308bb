"""The closed loop back to the referrer: a referral's state as a FHIR R4 Task. Plain Python.

Each ServiceRequest Hearth accepted has one Task (`basedOn` and `focus` the ServiceRequest,
`for` the member by identifier). The Task's status follows the referral's state machine through
the table in `fhir.toml` (`[task.status]`), reproduced here:

| referral state        | Task.status | businessStatus       |
|-----------------------|-------------|----------------------|
| received              | received    | received             |
| triaged               | accepted    | triaged              |
| outreach              | in-progress | outreach             |
| assessment_scheduled  | in-progress | assessment-scheduled |
| assessed              | in-progress | assessed             |
| enrolled              | completed   | enrolled             |
| declined              | completed   | declined             |
| ineligible            | rejected    | ineligible           |
| unable_to_reach       | completed   | unable-to-reach      |
| closed                | completed   | closed               |

Enrolled and declined are "completed" because the program did what was asked (the member was
assessed and chose); ineligible is "rejected" because the program refused before any care;
unable-to-reach and closed are "completed" with businessStatus saying why (many EHRs show
"failed" as a system error). A referral made before any goals-of-care conversation gets a
static note with guidance for the referrer: no PHI, the same text for everyone.
"""

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from fhir.resources.R4B.bundle import Bundle
from fhir.resources.R4B.task import Task

from .domain import Status
from .fhir_profile import FhirProfile, TaskState

TASK_CODE = {"system": "http://hl7.org/fhir/CodeSystem/task-code", "code": "fulfill"}


@dataclass(frozen=True)
class TrackedReferral:
    """A ServiceRequest Hearth accepted and the referral it became, as the Task needs them."""

    task_id: str
    service_request_id: str
    referral_id: str
    member_id: str
    referrer_id: str
    provider_org_id: str | None
    status: Status
    accepted_at: datetime
    last_modified: datetime
    needs_goals_of_care: bool


def task_state(status: Status, profile: FhirProfile) -> TaskState:
    """Task.status and businessStatus of a referral state (every state has a row: a test checks)."""
    return profile.task_states[status.value]


def task(tracked: TrackedReferral, profile: FhirProfile) -> Task:
    state = task_state(tracked.status, profile)
    service_request = {"reference": f"ServiceRequest/{tracked.service_request_id}", "type": "ServiceRequest"}
    body: dict[str, Any] = {
        "resourceType": "Task",
        "id": tracked.task_id,
        "identifier": [{"system": profile.referral_identifier_system, "value": tracked.referral_id}],
        "basedOn": [service_request],
        "focus": service_request,
        "for": {
            "type": "Patient",
            "identifier": {"system": profile.member_identifier_system, "value": tracked.member_id},
        },
        "status": state.status,
        "businessStatus": {
            "coding": [
                {
                    "system": profile.business_status_system,
                    "code": state.business_status,
                    "display": state.display,
                }
            ],
            "text": state.display,
        },
        "intent": "order",
        "code": {"coding": [TASK_CODE]},
        "authoredOn": tracked.accepted_at.isoformat(),
        "lastModified": tracked.last_modified.isoformat(),
        "requester": _requester(tracked.referrer_id, profile),
    }
    if tracked.provider_org_id:
        body["owner"] = {
            "type": "Organization",
            "identifier": {
                "system": profile.organization_identifier_system,
                "value": tracked.provider_org_id,
            },
        }
    if tracked.needs_goals_of_care:
        body["note"] = [{"text": profile.goals_of_care_guidance}]
    return Task.model_validate(body)


def _requester(referrer_id: str, profile: FhirProfile) -> dict[str, Any]:
    if referrer_id.startswith("npi:"):
        return {"identifier": {"system": profile.npi_system, "value": referrer_id.removeprefix("npi:")}}
    if "/" in referrer_id:
        return {"reference": referrer_id}
    return {"display": referrer_id}


def searchset(tasks: list[Task], base_url: str) -> Bundle:
    return Bundle.model_validate(
        {
            "resourceType": "Bundle",
            "type": "searchset",
            "total": len(tasks),
            "entry": [
                {"fullUrl": f"{base_url}/fhir/Task/{t.id}", "resource": t, "search": {"mode": "match"}}
                for t in tasks
            ],
        }
    )
