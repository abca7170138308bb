"""The eligibility service's access matrix: every endpoint, called by the clients of organization A
(the member's attributed provider) and organization B. B never reaches A's members: single
resources answer 404, FHIR and X12 coverage questions answer "not in force" as for an unknown
member, and loading coverage is the plan's alone. Plus the ACO path: an ACO sees the members
whose coverage names it."""

import uuid
from collections.abc import Iterator
from datetime import UTC, date, datetime
from pathlib import Path

import httpx
import pytest

from hearth_eligibility.fhir import load_fhir_profile
from hearth_schemas import AssessmentCompleted, ReferralReceived

from ..stack import Stack
from .access import ACO_A, ORG_A, ORG_B, Case, Request, client_of, without
from .matrix import check

PROFILE = load_fhir_profile()
FHIR = {"content-type": "application/fhir+json"}
X12 = {"content-type": "application/edi-x12"}
INQUIRY_5010 = (
    Path(__file__).parents[3] / "services" / "eligibility" / "tests" / "x12" / "inquiry_005010X279A1.x12"
).read_text()
ENROLLED = "hearth.eligibility.MemberEnrolled.v1"
DETERMINED = "hearth.eligibility.EligibilityDetermined.v1"
#: Only A's member is covered by this plan: an answer naming it reveals A's coverage.
PLAN_A = "plan-seen-only-by-a"

_stack: list[Stack] = []


@pytest.fixture(autouse=True)
def _events_through(stack: Stack) -> Iterator[None]:
    """Cases that need an enrolment or a decision publish events; `Setup` gets no stack."""
    _stack.append(stack)
    yield
    _stack.clear()


def new_member() -> str:
    return f"M-acc-{uuid.uuid4().hex[:12]}"


async def covered_member(admin: httpx.AsyncClient, base: str, *, aco: str | None = None) -> str:
    """A member whose coverage the plan attributes to ORG_A (and to `aco`, when given)."""
    member = new_member()
    response = await admin.post(
        f"{base}/members/{member}/coverage",
        json={
            "plan_id": PLAN_A,
            "line_of_business": "medi_cal",
            "market": "alameda",
            "aco_id": aco,
            "provider_org_id": ORG_A,
            "start_date": "2026-01-01",
        },
    )
    assert response.status_code == 201, response.text
    return member


async def enrolled_member(admin: httpx.AsyncClient, base: str) -> str:
    """A member of ORG_A enrolled through a referral and an assessment (October 2026)."""
    member = await covered_member(admin, base)
    stack = _stack[0]
    referral_id = f"ref-{uuid.uuid4().hex[:10]}"
    await stack.publish(
        ReferralReceived(
            referral_id=referral_id,
            member_id=member,
            source="ehr",
            referrer_id="dr-1",
            referral_date=date(2026, 10, 1),
            received_at=datetime(2026, 10, 1, 9, tzinfo=UTC),
            provider_org_id=ORG_A,
        )
    )
    await stack.publish(
        AssessmentCompleted(
            assessment_id=f"as-{uuid.uuid4().hex[:10]}",
            referral_id=referral_id,
            member_id=member,
            provider_org_id=ORG_A,
            assessed_on=date(2026, 10, 5),
            mode="in_person",
            decision="enrol",
            age_years=77,
            primary_condition="copd",
            fev1_percent=30,
            oxygen_lpm=2.0,
            karnofsky=60,
        )
    )
    await stack.wait_for_event("eligibility.events", lambda e: e.subject == member and e.type == ENROLLED)
    return member


def eligibility_request(member: str) -> dict:
    return {
        "resourceType": "CoverageEligibilityRequest",
        "contained": [
            {
                "resourceType": "Patient",
                "id": "pat",
                "identifier": [{"system": PROFILE.member_identifier_system, "value": member}],
            }
        ],
        "status": "active",
        "purpose": ["validation"],
        "patient": {"reference": "#pat"},
        "servicedDate": "2026-11-15",
        "created": "2026-11-15",
        "insurer": {"reference": "Organization/plan"},
    }


def attribution_group(org: str, member: str) -> dict:
    return {
        "resourceType": "Group",
        "type": "person",
        "actual": True,
        "managingEntity": {"reference": f"Organization/{org}"},
        "member": [
            {
                "entity": {"identifier": {"system": PROFILE.member_identifier_system, "value": member}},
                "period": {"start": "2026-01-01"},
            }
        ],
    }


async def post_coverage(admin: httpx.AsyncClient, base: str) -> Request:
    body = {
        "plan_id": PLAN_A,
        "line_of_business": "medi_cal",
        "market": "alameda",
        "start_date": "2026-01-01",
    }
    return Request("POST", f"{base}/members/{new_member()}/coverage", json=body | {"provider_org_id": ORG_A})


async def coverage_import(admin: httpx.AsyncClient, base: str) -> Request:
    roster = f"member_id,plan_id,line_of_business,market,provider_org_id,start_date\n{new_member()},{PLAN_A},medi_cal,alameda,{ORG_A},2026-01-01\n"
    return Request(
        "POST", f"{base}/coverage/import", content=roster.encode(), headers={"content-type": "text/csv"}
    )


async def get_coverage(admin: httpx.AsyncClient, base: str) -> Request:
    member = await covered_member(admin, base)
    return Request("GET", f"{base}/members/{member}/coverage", params={"on": "2026-11-15"})


async def get_history(admin: httpx.AsyncClient, base: str) -> Request:
    return Request("GET", f"{base}/members/{await covered_member(admin, base)}/coverage/history")


async def get_determinations(admin: httpx.AsyncClient, base: str) -> Request:
    member = await covered_member(admin, base)
    stack = _stack[0]
    await stack.publish(
        ReferralReceived(
            referral_id=f"ref-{uuid.uuid4().hex[:10]}",
            member_id=member,
            source="ehr",
            referrer_id="dr-1",
            referral_date=date(2026, 10, 1),
            received_at=datetime(2026, 10, 1, 9, tzinfo=UTC),
            provider_org_id=ORG_A,
        )
    )
    await stack.wait_for_event("eligibility.events", lambda e: e.subject == member and e.type == DETERMINED)
    return Request("GET", f"{base}/members/{member}/determinations")


async def get_enrolment(admin: httpx.AsyncClient, base: str) -> Request:
    return Request("GET", f"{base}/members/{await enrolled_member(admin, base)}/enrolment")


async def post_disenrol(admin: httpx.AsyncClient, base: str) -> Request:
    member = await enrolled_member(admin, base)
    body = {"reason": "member_choice", "effective_date": "2026-12-01"}
    return Request("POST", f"{base}/members/{member}/disenrol", json=body)


async def coverage_eligibility_request(admin: httpx.AsyncClient, base: str) -> Request:
    member = await covered_member(admin, base)
    return Request(
        "POST", f"{base}/fhir/CoverageEligibilityRequest", json=eligibility_request(member), headers=FHIR
    )


async def post_group(admin: httpx.AsyncClient, base: str) -> Request:
    member = await covered_member(admin, base)
    return Request("POST", f"{base}/fhir/Group", json=attribution_group(ORG_A, member), headers=FHIR)


async def post_834(admin: httpx.AsyncClient, base: str) -> Request:
    from hearth_eligibility.x12.enrolment_file import ADD, MemberMaintenance, enrolment_file

    text = enrolment_file(
        [MemberMaintenance(new_member(), ADD, "MCAL-ALA", date(2026, 11, 1))], at=datetime.now(UTC)
    )
    return Request("POST", f"{base}/x12/834", content=text.encode(), headers=X12)


async def post_270(admin: httpx.AsyncClient, base: str) -> Request:
    member = await covered_member(admin, base)
    return Request(
        "POST", f"{base}/x12/270", content=INQUIRY_5010.replace("M-COVERED", member).encode(), headers=X12
    )


#: Loading coverage is the plan's operation: A's own client is refused too.
PLAN_ONLY = (403,)

CASES: list[Case] = [
    Case("POST", "/members/{member_id}/coverage", post_coverage, a_gets=PLAN_ONLY),
    Case("POST", "/coverage/import", coverage_import, a_gets=PLAN_ONLY),
    Case("POST", "/x12/834", post_834, a_gets=PLAN_ONLY),
    Case("GET", "/members/{member_id}/coverage", get_coverage),
    Case("GET", "/members/{member_id}/coverage/history", get_history),
    Case("GET", "/members/{member_id}/determinations", get_determinations, b_gets=without(PLAN_A)),
    Case("GET", "/members/{member_id}/enrolment", get_enrolment),
    Case("POST", "/members/{member_id}/disenrol", post_disenrol),
    Case("POST", "/fhir/CoverageEligibilityRequest", coverage_eligibility_request, b_gets=without(PLAN_A)),
    Case("POST", "/fhir/Group", post_group),
    Case("POST", "/x12/270", post_270, b_gets=without(PLAN_A)),
]


@pytest.mark.parametrize("case", CASES, ids=lambda c: f"{c.method} {c.path}")
async def test_organization_b_never_reaches_organization_a_members(stack: Stack, http, case: Case):
    await check(stack, "eligibility", case, http)


async def test_a_provider_cannot_claim_another_organizations_member_with_an_attribution_list(
    stack: Stack, http
):
    base = stack.url("eligibility")
    member = await covered_member(http, base)
    async with client_of(ORG_B) as b:
        claimed = await b.post(f"{base}/fhir/Group", json=attribution_group(ORG_B, member), headers=FHIR)
    assert claimed.status_code == 403
    assert claimed.json()["issue"][0]["expression"] == ["Group.member"]
    still = (await http.get(f"{base}/members/{member}/coverage", params={"on": "2026-11-15"})).json()
    assert still["provider_org_id"] == ORG_A


async def test_an_aco_sees_the_members_attributed_to_it_and_no_others(stack: Stack, http):
    base = stack.url("eligibility")
    ours = await covered_member(http, base, aco=ACO_A)
    theirs = await covered_member(http, base)
    async with client_of(ACO_A, org_type="aco") as aco:
        seen = await aco.get(f"{base}/members/{ours}/coverage", params={"on": "2026-11-15"})
        hidden = await aco.get(f"{base}/members/{theirs}/coverage", params={"on": "2026-11-15"})
        inquiry = INQUIRY_5010.replace("M-COVERED", ours).replace("M-UNKNOWN", theirs)
        answered = await aco.post(f"{base}/x12/270", content=inquiry, headers=X12)
    assert seen.status_code == 200 and seen.json()["aco_id"] == ACO_A
    assert hidden.status_code == 404
    lines = answered.text.splitlines()
    assert [line for line in lines if line.startswith("EB*")] == [f"EB*1*IND*30*MC*{PLAN_A}~"]
    # The other member is answered as the registry answers a stranger: subscriber not found.
    assert lines[lines.index(f"NM1*IL*1*ROE*RICHARD****MI*{theirs}~") + 1] == "AAA*Y**75*C~"


async def test_an_aco_may_restate_its_own_members_attribution_to_itself(stack: Stack, http):
    base = stack.url("eligibility")
    member = await covered_member(http, base, aco=ACO_A)
    async with client_of(ACO_A, org_type="aco") as aco:
        recorded = await aco.post(f"{base}/fhir/Group", json=attribution_group(ACO_A, member), headers=FHIR)
        foreign = await aco.post(f"{base}/fhir/Group", json=attribution_group(ORG_A, member), headers=FHIR)
    assert recorded.status_code == 200, recorded.text
    assert (recorded.json()["provider_org_id"], recorded.json()["spans_added"]) == (ACO_A, 1)
    assert foreign.status_code == 403
    assert foreign.json()["issue"][0]["expression"] == ["Group.managingEntity"]
