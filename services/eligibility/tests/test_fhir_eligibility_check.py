"""FHIR coverage checks without I/O: who the request names, what it asks, problems as
OperationOutcome issues, and a response that is a valid R4 CoverageEligibilityResponse."""

from datetime import UTC, date, datetime

import orjson
import pytest
from fhir.resources.R4B.coverageeligibilityrequest import CoverageEligibilityRequest
from fhir.resources.R4B.coverageeligibilityresponse import CoverageEligibilityResponse

from hearth_eligibility.coverage import CoverageHistory, CoverageSpan
from hearth_eligibility.eligibility_check import eligibility_question, eligibility_response
from hearth_eligibility.fhir import FhirProblem, load_fhir_profile, parse_resource

PROFILE = load_fhir_profile()
TODAY = date(2026, 11, 1)
NOW = datetime(2026, 11, 1, 9, tzinfo=UTC)


def request(**changes) -> dict:
    body = {
        "resourceType": "CoverageEligibilityRequest",
        "id": "cer-1",
        "contained": [
            {
                "resourceType": "Patient",
                "id": "pat",
                "identifier": [
                    {"system": "urn:oid:1.2.3.mrn", "value": "MRN-77"},
                    {"system": PROFILE.member_identifier_system, "value": "M-1"},
                ],
            }
        ],
        "status": "active",
        "purpose": ["validation"],
        "patient": {"reference": "#pat"},
        "servicedDate": "2026-10-01",
        "created": "2026-10-01",
        "insurer": {"reference": "Organization/plan-9"},
    }
    return {**body, **changes}


def question(body: dict):
    return eligibility_question(
        parse_resource(CoverageEligibilityRequest, orjson.dumps(body)), PROFILE, TODAY
    )


def problems(body: dict | bytes) -> list[tuple[str, str]]:
    raw = body if isinstance(body, bytes) else orjson.dumps(body)
    with pytest.raises(FhirProblem) as refused:
        eligibility_question(parse_resource(CoverageEligibilityRequest, raw), PROFILE, TODAY)
    return [(i.expression, i.code) for i in refused.value.issues]


def test_the_member_is_the_contained_patients_member_identifier_not_its_mrn():
    q = question(request())
    assert (q.member_id, q.start, q.end, q.purposes) == (
        "M-1",
        date(2026, 10, 1),
        date(2026, 10, 1),
        ("validation",),
    )


def test_a_member_number_typed_identifier_or_a_patient_reference_names_the_member():
    typed = request(
        contained=[
            {
                "resourceType": "Patient",
                "id": "pat",
                "identifier": [
                    {
                        "type": {"coding": [{"system": PROFILE.member_identifier_type_system, "code": "MB"}]},
                        "system": "urn:other-plan",
                        "value": "M-2",
                    }
                ],
            }
        ]
    )
    assert question(typed).member_id == "M-2"
    assert question(request(patient={"reference": "Patient/M-3"}, contained=[])).member_id == "M-3"


def test_a_service_period_is_asked_whole_and_no_date_means_today():
    q = question(request(servicedDate=None, servicedPeriod={"start": "2026-10-01", "end": "2026-12-31"}))
    assert (q.start, q.end) == (date(2026, 10, 1), date(2026, 12, 31))
    body = request()
    del body["servicedDate"]
    assert question(body).start == TODAY


def test_every_problem_is_named_at_once():
    body = request(
        purpose=["discovery"],
        patient={"reference": "#nobody"},
        servicedDate="2026-10",
        status="cancelled",
    )
    assert problems(body) == [
        ("CoverageEligibilityRequest.status", "business-rule"),
        ("CoverageEligibilityRequest.purpose[0]", "not-supported"),
        ("CoverageEligibilityRequest.patient", "not-found"),
        ("CoverageEligibilityRequest.servicedDate", "invalid"),
    ]


def test_structural_problems_come_from_the_r4_model_and_non_json_is_a_400():
    body = request(servicedDate="2026-13-45", colour="red")
    del body["patient"]
    assert sorted(problems(body)) == [
        ("CoverageEligibilityRequest.colour", "invalid"),
        ("CoverageEligibilityRequest.patient", "required"),
        ("CoverageEligibilityRequest.servicedDate", "invalid"),
    ]
    with pytest.raises(FhirProblem) as refused:
        parse_resource(CoverageEligibilityRequest, b"{not json")
    assert refused.value.status == 400
    assert problems({"resourceType": "Patient"}) == [("CoverageEligibilityRequest", "structure")]


def test_a_contained_patient_without_a_member_identifier_is_refused():
    body = request(contained=[{"resourceType": "Patient", "id": "pat", "identifier": [{"value": "MRN-77"}]}])
    assert problems(body) == [("CoverageEligibilityRequest.patient", "required")]


SPAN = CoverageSpan(
    "span-1", "M-1", "plan-9", "d_snp", "fresno", "aco-1", "org-1", date(2026, 1, 1), date(2026, 12, 31), NOW
)


def test_a_covered_member_gets_inforce_with_the_plan_and_benefit_period():
    q = question(request(purpose=["validation", "benefits"]))
    response = eligibility_response(
        q, q.answer(CoverageHistory.of("M-1", [SPAN])), created=NOW, profile=PROFILE
    )
    out = orjson.loads(response.model_dump_json(exclude_none=True))
    CoverageEligibilityResponse.model_validate(out)
    assert (out["outcome"], out["request"], out["purpose"]) == (
        "complete",
        {"reference": "CoverageEligibilityRequest/cer-1"},
        ["validation", "benefits"],
    )
    (insurance,) = out["insurance"]
    assert insurance["inforce"] is True and insurance["coverage"] == {"reference": "#span-1"}
    assert insurance["benefitPeriod"] == {"start": "2026-01-01", "end": "2026-12-31"}
    (coverage,) = out["contained"]
    assert coverage["class"][0]["value"] == "plan-9" and coverage["network"] == "fresno"
    assert coverage["type"]["coding"][0]["code"] == "d_snp"
    assert out["patient"]["identifier"] == {"system": PROFILE.member_identifier_system, "value": "M-1"}
    assert "plan-9" in out["disposition"]


def test_a_period_beyond_the_span_is_not_in_force_and_the_named_coverage_is_echoed():
    body = request(
        servicedDate=None,
        servicedPeriod={"start": "2026-12-01", "end": "2027-01-31"},
        insurance=[{"coverage": {"reference": "Coverage/c-9"}}],
    )
    q = question(body)
    assert q.answer(CoverageHistory.of("M-1", [SPAN])) is None
    out = orjson.loads(
        eligibility_response(q, None, created=NOW, profile=PROFILE).model_dump_json(exclude_none=True)
    )
    assert out["insurance"] == [{"coverage": {"reference": "Coverage/c-9"}, "inforce": False}]
    assert out["disposition"] == "no coverage in force from 2026-12-01 to 2027-01-31"
    assert "contained" not in out
