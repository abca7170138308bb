"""A FHIR R4 ServiceRequest read as a referral, without I/O: contained and Bundle forms, and every
problem named in an OperationOutcome."""

import copy
from datetime import date

import orjson
import pytest
from fhir.resources.R4B.operationoutcome import OperationOutcome

from hearth_referral.fhir import FhirProblem, FhirReferral, read_referral
from hearth_referral.fhir_profile import load_fhir_profile

PROFILE = load_fhir_profile()
PALLIATIVE = {"system": "http://snomed.info/sct", "code": "103735009", "display": "Palliative care"}
NPI = "http://hl7.org/fhir/sid/us-npi"


def service_request(**changes) -> dict:
    body = {
        "resourceType": "ServiceRequest",
        "id": "sr-1",
        "identifier": [{"system": "urn:oid:1.2.3.orders", "value": "ORD-1"}],
        "contained": [
            {
                "resourceType": "Patient",
                "id": "pat",
                "identifier": [
                    {"system": "urn:oid:1.2.3.mrn", "value": "MRN-77"},
                    {"system": PROFILE.member_identifier_system, "value": "M-1"},
                ],
            },
            {
                "resourceType": "Coverage",
                "id": "cov",
                "status": "active",
                "subscriberId": "M-1",
                "beneficiary": {"reference": "#pat"},
                "payor": [{"display": "plan"}],
            },
        ],
        "extension": [{"url": PROFILE.goals_of_care_extension_url, "valueBoolean": True}],
        "status": "active",
        "intent": "order",
        "code": {"coding": [PALLIATIVE]},
        "subject": {"reference": "#pat"},
        "authoredOn": "2026-10-01T09:30:00-07:00",
        "requester": {"identifier": {"system": NPI, "value": "1234567893"}},
        "performer": [{"reference": "Organization/org-a"}],
        "insurance": [{"reference": "#cov"}],
    }
    return body | changes


def bundle(request: dict, *others: dict, type_: str = "transaction") -> dict:
    entries = [
        {
            "fullUrl": "urn:uuid:sr",
            "resource": request,
            "request": {"method": "POST", "url": "ServiceRequest"},
        }
    ]
    entries += [
        {"fullUrl": url, "resource": resource, "request": {"method": "POST", "url": resource["resourceType"]}}
        for url, resource in zip(("urn:uuid:pat", "urn:uuid:cov", "urn:uuid:dr"), others, strict=False)
    ]
    return {"resourceType": "Bundle", "type": type_, "entry": entries}


def read(body: dict) -> FhirReferral:
    return read_referral(orjson.dumps(body), PROFILE)


def problems(body: dict | bytes) -> tuple[int, dict[str, str]]:
    with pytest.raises(FhirProblem) as caught:
        read_referral(body if isinstance(body, bytes) else orjson.dumps(body), PROFILE)
    outcome = OperationOutcome.model_validate(caught.value.outcome())
    return caught.value.status, {i.expression[0]: i.diagnostics for i in outcome.issue}


def test_a_contained_patient_coverage_and_npi_make_a_referral():
    referral = read(service_request())
    assert referral.member_id == "M-1"
    assert referral.referrer_id == "npi:1234567893"
    assert referral.referral_date == date(2026, 10, 1)
    assert referral.goals_of_care_discussed is True
    assert referral.provider_org_id == "org-a"
    assert referral.request_key is not None and referral.request_key.startswith("fhir:")


def test_the_same_order_identifier_gives_the_same_retry_key_and_another_one_a_different_key():
    again = service_request(status="active")
    other = service_request(identifier=[{"system": "urn:oid:1.2.3.orders", "value": "ORD-2"}])
    assert read(again).request_key == read(service_request()).request_key != read(other).request_key
    without = service_request()
    del without["identifier"]
    assert read(without).request_key is None


def test_without_a_member_identifier_the_coverage_subscriber_id_is_the_member():
    body = service_request()
    body["contained"][0]["identifier"] = [{"system": "urn:oid:1.2.3.mrn", "value": "MRN-77"}]
    body["contained"][1]["subscriberId"] = "M-from-coverage"
    assert read(body).member_id == "M-from-coverage"


def test_palliative_care_in_a_category_is_accepted_and_no_extension_means_unknown_goals_of_care():
    body = service_request(code={"text": "referral"}, category=[{"coding": [PALLIATIVE]}], extension=None)
    referral = read({k: v for k, v in body.items() if v is not None})
    assert referral.goals_of_care_discussed is None


def test_a_transaction_bundle_resolves_patient_coverage_and_requester_by_full_url():
    request = service_request(
        contained=None,
        subject={"reference": "urn:uuid:pat"},
        insurance=[{"reference": "urn:uuid:cov"}],
        requester={"reference": "urn:uuid:dr"},
    )
    request = {k: v for k, v in request.items() if v is not None}
    patient = {"resourceType": "Patient", "identifier": [{"system": "urn:oid:1.2.3.mrn", "value": "MRN-77"}]}
    coverage = {
        "resourceType": "Coverage",
        "status": "active",
        "subscriberId": "M-9",
        "beneficiary": {"reference": "urn:uuid:pat"},
        "payor": [{"display": "plan"}],
    }
    doctor = {"resourceType": "Practitioner", "identifier": [{"system": NPI, "value": "1999999984"}]}
    referral = read(bundle(request, patient, coverage, doctor))
    assert (referral.member_id, referral.referrer_id) == ("M-9", "npi:1999999984")


def test_a_bundle_patient_referenced_by_type_and_id_and_a_practitioner_role_reference():
    request = service_request(
        contained=None,
        insurance=None,
        subject={"reference": "Patient/p1"},
        requester={"reference": "PractitionerRole/role-7"},
    )
    request = {k: v for k, v in request.items() if v is not None}
    patient = {
        "resourceType": "Patient",
        "id": "p1",
        "identifier": [
            {
                "type": {"coding": [{"system": PROFILE.member_identifier_type_system, "code": "MB"}]},
                "system": "urn:oid:9.9",
                "value": "M-typed",
            }
        ],
    }
    referral = read(bundle(request, patient))
    assert (referral.member_id, referral.referrer_id) == ("M-typed", "PractitionerRole/role-7")


def test_a_body_that_is_not_json_is_a_400_structure_problem():
    status, issues = problems(b"\xff not json")
    assert status == 400 and list(issues) == ["ServiceRequest"]


def test_a_wrong_resource_type_is_named():
    status, issues = problems({"resourceType": "Patient", "id": "x"})
    assert status == 422 and issues == {"resourceType": "must be ServiceRequest or a transaction Bundle"}
    assert problems([1, 2])[1] == {"resourceType": "must be ServiceRequest or a transaction Bundle"}


def test_every_missing_required_element_and_parse_error_is_named_in_one_outcome():
    body = service_request(authoredOn="2026-13-01")
    del body["status"], body["intent"], body["subject"]
    status, issues = problems(body)
    assert status == 422
    assert set(issues) == {
        "ServiceRequest.status",
        "ServiceRequest.intent",
        "ServiceRequest.subject",
        "ServiceRequest.authoredOn",
    }
    assert issues["ServiceRequest.status"] == "is required"


def test_an_unknown_element_or_contained_type_is_a_problem_not_a_crash():
    assert "ServiceRequest.patientName" in problems(service_request(patientName="x"))[1]
    unknown = service_request(contained=[{"resourceType": "Nope", "id": "pat"}])
    assert problems(unknown)[0] == 422


def test_a_referral_that_is_not_palliative_care_is_refused_naming_the_code():
    status, issues = problems(
        service_request(code={"coding": [{"system": "http://snomed.info/sct", "code": "1"}]})
    )
    assert status == 422 and list(issues) == ["ServiceRequest.code"]
    assert "103735009" in issues["ServiceRequest.code"]


def test_semantic_problems_are_all_named_together_without_echoing_values():
    body = service_request(status="draft", intent="filler-order", authoredOn="2026-10", requester=None)
    body = {k: v for k, v in body.items() if v is not None}
    body["contained"][0]["identifier"] = [{"system": "urn:oid:1.2.3.mrn", "value": "MRN-77"}]
    body["contained"][1].pop("subscriberId")
    body["extension"] = [{"url": PROFILE.goals_of_care_extension_url, "valueString": "yes"}]
    status, issues = problems(body)
    assert set(issues) == {
        "ServiceRequest.status",
        "ServiceRequest.intent",
        "ServiceRequest.authoredOn",
        "ServiceRequest.subject",
        "ServiceRequest.requester",
        "ServiceRequest.extension[0]",
    }
    assert "MRN-77" not in orjson.dumps(issues).decode()


def test_a_subject_that_does_not_resolve_to_a_patient_is_named():
    issues = problems(service_request(subject={"reference": "#cov"}))[1]
    assert issues["ServiceRequest.subject"].startswith("must reference a Patient")
    assert (
        "ServiceRequest.subject" in problems(service_request(subject={"reference": "Patient/elsewhere"}))[1]
    )


def test_a_bundle_must_be_a_transaction_with_exactly_one_service_request():
    request = service_request()
    issues = problems(bundle(request, type_="collection"))[1]
    assert issues == {"Bundle.type": "must be transaction"}
    empty = {"resourceType": "Bundle", "type": "transaction", "entry": []}
    assert problems(empty)[1] == {"Bundle.entry": "must hold exactly one ServiceRequest"}
    two = bundle(request)
    two["entry"].append(copy.deepcopy(two["entry"][0]) | {"fullUrl": "urn:uuid:sr2"})
    assert problems(two)[1] == {"Bundle.entry": "must hold exactly one ServiceRequest"}


def test_a_missing_element_inside_a_bundle_entry_is_named_with_its_path():
    request = service_request()
    del request["intent"], request["subject"]
    issues = problems(bundle(request))[1]
    assert set(issues) == {"Bundle.entry[0].resource.intent", "Bundle.entry[0].resource.subject"}


@pytest.mark.parametrize("wrong", [None, 1, "x", [], {}, [1], [{}], {"reference": 5}, True])
def test_any_element_of_the_wrong_shape_is_an_outcome_never_a_crash(wrong):
    valid = service_request()
    for name in valid:
        for body in (valid | {name: wrong}, bundle(valid | {name: wrong})):
            try:
                read(body)
            except FhirProblem as problem:
                assert problem.issues and problem.status in (400, 422)
    for nested in ("subject", "requester", "code"):
        mangled = service_request()
        mangled[nested] = {"reference": wrong, "coding": wrong, "identifier": wrong}
        with pytest.raises(FhirProblem):
            read(mangled)
