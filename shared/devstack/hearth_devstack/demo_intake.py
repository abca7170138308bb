"""What referrers send, as they write it: an EHR's FHIR R4 ServiceRequest and a line of an ACO's
or care manager's referral list (NDJSON, the columns of `POST /referrals/import`)."""

from typing import Any

from hearth_devstack.demo_care import PlannedReferral


def referral_line(p: PlannedReferral, who: str) -> dict[str, Any]:
    line: dict[str, Any] = {
        "member_id": p.member.member_id,
        "source": p.source,
        "referrer_id": who,
        "referral_date": p.referral_date.isoformat(),
        "provider_org_id": p.member.provider_org_id,
    }
    if p.goals_of_care_discussed is not None:
        line["goals_of_care_discussed"] = p.goals_of_care_discussed
    return line


PALLIATIVE = {"system": "http://snomed.info/sct", "code": "103735009", "display": "Palliative care"}


def service_request(p: PlannedReferral, index: int) -> dict[str, Any]:
    """A FHIR R4 ServiceRequest as an EHR sends it: Patient and Coverage contained, the
    requesting physician by NPI, the provider organization as performer."""
    member_id = p.member.member_id
    request: dict[str, Any] = {
        "resourceType": "ServiceRequest",
        "identifier": [{"system": "urn:oid:2.16.840.1.113883.19.5.orders", "value": f"ORD-{member_id}"}],
        "contained": [
            {
                "resourceType": "Patient",
                "id": "pat",
                "identifier": [
                    {"system": "https://hearth.example.org/fhir/sid/member-id", "value": member_id}
                ],
            },
            {
                "resourceType": "Coverage",
                "id": "cov",
                "status": "active",
                "subscriberId": member_id,
                "beneficiary": {"reference": "#pat"},
                "payor": [{"display": "the plan"}],
            },
        ],
        "status": "active",
        "intent": "order",
        "category": [{"coding": [PALLIATIVE]}],
        "code": {"coding": [PALLIATIVE]},
        "subject": {"reference": "#pat"},
        "authoredOn": p.referral_date.isoformat(),
        "requester": {
            "identifier": {
                "system": "http://hl7.org/fhir/sid/us-npi",
                "value": f"{1_200_000_000 + index % 40:010d}",
            }
        },
        "performer": [{"reference": f"Organization/{p.member.provider_org_id}"}],
        "insurance": [{"reference": "#cov"}],
    }
    if p.goals_of_care_discussed is not None:
        request["extension"] = [
            {
                "url": "https://hearth.example.org/fhir/StructureDefinition/goals-of-care-discussed",
                "valueBoolean": p.goals_of_care_discussed,
            }
        ]
    return request
