"""The referral service's FHIR R4 edge over HTTP, the real Postgres and the real broker: a
palliative-care ServiceRequest becomes a referral whose Task follows it through enrolment, and
invalid FHIR gets an OperationOutcome, never a 5xx."""

import asyncpg
import orjson
from fhir.resources.R4B.bundle import Bundle
from fhir.resources.R4B.operationoutcome import OperationOutcome
from fhir.resources.R4B.task import Task

from hearth_platform.db import asyncpg_dsn
from hearth_referral.fhir_profile import load_fhir_profile

from .stack import Stack

PROFILE = load_fhir_profile()
FHIR = {"content-type": "application/fhir+json"}
PALLIATIVE = {"system": "http://snomed.info/sct", "code": "103735009", "display": "Palliative care"}


def service_request(member_id: str, order: str, *, goals_of_care: bool = False) -> dict:
    """As an outside FHIR tool writes it: Patient and Coverage contained, requester by NPI."""
    return {
        "resourceType": "ServiceRequest",
        "identifier": [{"system": "urn:oid:2.16.840.1.113883.19.5.orders", "value": order}],
        "contained": [
            {
                "resourceType": "Patient",
                "id": "pat",
                "identifier": [{"system": PROFILE.member_identifier_system, "value": member_id}],
            },
            {
                "resourceType": "Coverage",
                "id": "cov",
                "status": "active",
                "subscriberId": member_id,
                "beneficiary": {"reference": "#pat"},
                "payor": [{"display": "plan-1"}],
            },
        ],
        "extension": [{"url": PROFILE.goals_of_care_extension_url, "valueBoolean": goals_of_care}],
        "status": "active",
        "intent": "order",
        "category": [{"coding": [PALLIATIVE]}],
        "code": {"coding": [PALLIATIVE]},
        "subject": {"reference": "#pat"},
        "authoredOn": "2026-10-01",
        "requester": {"identifier": {"system": PROFILE.npi_system, "value": "1234567893"}},
        "performer": [{"reference": "Organization/org-fhir"}],
        "insurance": [{"reference": "#cov"}],
    }


async def covered(stack: Stack, http, member_id: str, org: str) -> None:
    coverage = await http.post(
        f"{stack.url('eligibility')}/members/{member_id}/coverage",
        json={
            "plan_id": "plan-1",
            "line_of_business": "medi_cal",
            "market": "alameda",
            "provider_org_id": org,
            "start_date": "2026-01-01",
        },
    )
    assert coverage.status_code == 201, coverage.text


async def task_of(stack: Stack, http, task_id: str) -> Task:
    response = await http.get(f"{stack.url('referral')}/fhir/Task/{task_id}")
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("application/fhir+json")
    return Task.model_validate(response.json())


def state(task: Task) -> tuple[str, str]:
    return task.status, task.businessStatus.coding[0].code


async def test_a_service_request_is_accepted_and_its_task_follows_the_referral_through_enrolment(
    stack: Stack, http, member_id
):
    base = stack.url("referral")
    await covered(stack, http, member_id, "org-fhir")
    posted = await http.post(
        f"{base}/fhir/ServiceRequest",
        content=orjson.dumps(service_request(member_id, f"ORD-{member_id}")),
        headers=FHIR,
    )
    assert posted.status_code == 201, posted.text
    task = Task.model_validate(posted.json())
    assert posted.headers["location"] == f"{base}/fhir/Task/{task.id}"
    assert state(task) == ("received", "received")
    assert task.for_fhir.identifier.value == member_id
    assert [n.text for n in task.note] == [PROFILE.goals_of_care_guidance]
    service_request_id = task.basedOn[0].reference.removeprefix("ServiceRequest/")
    referral_id = task.identifier[0].value

    received = await stack.wait_for_event(
        "referral.events",
        lambda e: (
            e.type == "hearth.referral.ReferralReceived.v1" and e.data.get("referral_id") == referral_id
        ),
    )
    assert (received.data["source"], received.data["referrer_id"]) == ("ehr", "npi:1234567893")
    assert received.data["goals_of_care_discussed"] is False
    assert (await http.get(f"{base}/referrals/{referral_id}")).json()["needs_goals_of_care"] is True
    await stack.wait_for_event(
        "eligibility.events",
        lambda e: (
            e.type == "hearth.eligibility.EligibilityDetermined.v1"
            and e.data.get("referral_id") == referral_id
        ),
    )

    moves = [
        ("triage", {"actor": "lead-1", "coordinator_id": "coord-1"}, ("accepted", "triaged")),
        ("outreach", {"actor": "coord-1"}, ("in-progress", "outreach")),
        (
            "schedule",
            {"actor": "coord-1", "scheduled_for": "2026-10-06", "mode": "in_person"},
            ("in-progress", "assessment-scheduled"),
        ),
    ]
    for move, body, expected in moves:
        moved = await http.post(f"{base}/referrals/{referral_id}/{move}", json=body)
        assert moved.status_code == 200, moved.text
        assert state(await task_of(stack, http, task.id)) == expected
    assessment = await http.post(
        f"{base}/referrals/{referral_id}/assessment",
        json={
            "provider_org_id": "org-fhir",
            "assessed_on": "2026-10-06",
            "mode": "in_person",
            "decision": "enrol",
            "primary_condition": "copd",
            "fev1_percent": 30,
            "oxygen_lpm": 2,
        },
    )
    assert assessment.status_code == 201, assessment.text
    await stack.wait_for_event(
        "referral.events",
        lambda e: e.type == "hearth.referral.ReferralClosed.v1" and e.data.get("referral_id") == referral_id,
    )
    done = await task_of(stack, http, task.id)
    assert state(done) == ("completed", "enrolled")
    assert done.lastModified > task.lastModified

    search = await http.get(f"{base}/fhir/Task", params={"based-on": f"ServiceRequest/{service_request_id}"})
    assert search.status_code == 200
    found = Bundle.model_validate(search.json())
    assert (found.type, found.total) == ("searchset", 1)
    assert found.entry[0].resource.id == task.id and found.entry[0].resource.status == "completed"


async def test_a_resent_order_answers_its_task_and_another_order_for_the_member_links_to_the_referral(
    stack: Stack, http, member_id
):
    await covered(stack, http, member_id, "org-fhir")
    url = f"{stack.url('referral')}/fhir/ServiceRequest"
    first = await http.post(url, json=service_request(member_id, f"A-{member_id}", goals_of_care=True))
    again = await http.post(url, json=service_request(member_id, f"A-{member_id}", goals_of_care=True))
    other = await http.post(url, json=service_request(member_id, f"B-{member_id}", goals_of_care=True))
    assert (first.status_code, again.status_code, other.status_code) == (201, 200, 201)
    first_task, again_task, other_task = (Task.model_validate(r.json()) for r in (first, again, other))
    assert again_task.id == first_task.id and first_task.note is None
    assert other_task.id != first_task.id
    assert other_task.basedOn[0].reference != first_task.basedOn[0].reference
    assert other_task.identifier[0].value == first_task.identifier[0].value, "one referral for the member"
    conn = await asyncpg.connect(asyncpg_dsn(stack.infra.database_url))
    try:
        count = await conn.fetchval("SELECT count(*) FROM referral.referrals WHERE member_id = $1", member_id)
    finally:
        await conn.close()
    assert count == 1


async def test_a_transaction_bundle_with_patient_and_coverage_entries_is_accepted(
    stack: Stack, http, member_id
):
    request = service_request(member_id, f"T-{member_id}")
    patient, coverage = request.pop("contained")
    request |= {"subject": {"reference": "urn:uuid:pat"}, "insurance": [{"reference": "urn:uuid:cov"}]}
    coverage["beneficiary"] = {"reference": "urn:uuid:pat"}
    bundle = {
        "resourceType": "Bundle",
        "type": "transaction",
        "entry": [
            {"fullUrl": f"urn:uuid:{name}", "resource": resource, "request": {"method": "POST", "url": kind}}
            for name, resource, kind in (
                ("sr", request, "ServiceRequest"),
                ("pat", patient, "Patient"),
                ("cov", coverage, "Coverage"),
            )
        ],
    }
    posted = await http.post(f"{stack.url('referral')}/fhir/ServiceRequest", json=bundle, headers=FHIR)
    assert posted.status_code == 201, posted.text
    assert Task.model_validate(posted.json()).for_fhir.identifier.value == member_id


async def test_invalid_fhir_gets_an_operation_outcome_naming_each_problem_and_never_a_5xx(
    stack: Stack, http, member_id
):
    url = f"{stack.url('referral')}/fhir/ServiceRequest"
    valid = service_request(member_id, f"X-{member_id}")
    not_palliative = valid | {
        "category": [],
        "code": {"coding": [{"system": "http://snomed.info/sct", "code": "1"}]},
    }
    missing = {k: v for k, v in valid.items() if k not in ("status", "subject")}
    cases: list[tuple[bytes, int, set[str]]] = [
        (b"\xff not json", 400, {"ServiceRequest"}),
        (orjson.dumps({"resourceType": "Patient"}), 422, {"resourceType"}),
        (orjson.dumps(missing), 422, {"ServiceRequest.status", "ServiceRequest.subject"}),
        (orjson.dumps(not_palliative), 422, {"ServiceRequest.code"}),
        (orjson.dumps(valid | {"authoredOn": "2026-02-30"}), 422, {"ServiceRequest.authoredOn"}),
        (orjson.dumps(valid | {"contained": [{"resourceType": "Nope"}]}), 422, {"ServiceRequest"}),
        (orjson.dumps({"resourceType": "Bundle", "type": "batch", "entry": "x"}), 422, {"Bundle.entry"}),
        (orjson.dumps([]), 422, {"resourceType"}),
    ]
    for body, status, expressions in cases:
        refused = await http.post(url, content=body, headers=FHIR)
        assert refused.status_code == status, (body[:40], refused.text)
        outcome = OperationOutcome.model_validate(refused.json())
        assert {e for i in outcome.issue for e in i.expression} == expressions, refused.text
    conn = await asyncpg.connect(asyncpg_dsn(stack.infra.database_url))
    try:
        count = await conn.fetchval("SELECT count(*) FROM referral.referrals WHERE member_id = $1", member_id)
    finally:
        await conn.close()
    assert count == 0


async def test_an_unknown_task_is_404_and_a_search_needs_based_on(stack: Stack, http):
    base = stack.url("referral")
    missing = await http.get(f"{base}/fhir/Task/no-such-task")
    assert missing.status_code == 404
    assert OperationOutcome.model_validate(missing.json()).issue[0].code == "not-found"
    assert (await http.get(f"{base}/fhir/Task/%00")).status_code == 404
    assert (await http.get(f"{base}/fhir/Task")).status_code == 400
    for odd in ("ServiceRequest/\x00", "Patient/1"):
        assert (await http.get(f"{base}/fhir/Task", params={"based-on": odd})).status_code == 400
    empty = await http.get(f"{base}/fhir/Task", params={"based-on": "ServiceRequest/unknown"})
    assert empty.status_code == 200 and empty.json()["total"] == 0
