"""Quality by organization: every endpoint called by clients of two provider organizations, and
by an ACO's client (which quality cannot place: it receives no ACO attribution).

Organization A's member is enrolled once for the module (quality learns enrolments from
eligibility's events); each case scores the current month as the plan and asks for A's data.
"""

import asyncio
import uuid
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest

from hearth_devstack.tokens import bearer_headers
from hearth_schemas import MemberEnrolled

from ..stack import Stack
from .access import ACO_A, ORG_A, ORG_B, Case, Request, client_of, without
from .matrix import check

# The current month: a reported visit may not be in the future, and billing (which also sees
# this enrolment) must find no open month before the ones other tests close.
ENROLLED_ON = datetime.now(UTC).date().replace(day=1)
PERIOD = ENROLLED_ON.strftime("%Y-%m")
MEMBER = f"M-QACC-{uuid.uuid4().hex[:10]}"
MEMBER_B = f"M-QACC-{uuid.uuid4().hex[:10]}"


def visit(org: str = ORG_A, member: str = MEMBER) -> dict[str, Any]:
    return {
        "member_id": member,
        "provider_org_id": org,
        "visit_date": ENROLLED_ON.isoformat(),
        "discipline": "social_worker",
        "mode": "in_person",
        "minutes": 50,
    }


def survey(org: str = ORG_A) -> dict[str, Any]:
    return {
        "member_id": MEMBER,
        "provider_org_id": org,
        "survey_date": ENROLLED_ON.isoformat(),
        "mode": "phone",
        "proxy": True,
        "heard_and_understood": 5,
        "best_interests_first": 5,
        "seen_as_person": 4,
        "understood_what_matters": 5,
    }


@pytest.fixture(scope="module", autouse=True)
async def members_of_a_and_b(stack: Stack) -> None:
    """MEMBER enrolled with A and MEMBER_B with B, once quality knows both (a visit reported by
    the plan is accepted): each organization has results of its own when the month is scored."""
    for member, org in ((MEMBER, ORG_A), (MEMBER_B, ORG_B)):
        await stack.publish(
            MemberEnrolled(
                enrollment_id=f"e-{member}",
                member_id=member,
                provider_org_id=org,
                tier="moderate",
                effective_date=ENROLLED_ON,
                consent_on=ENROLLED_ON,
            )
        )
    async with httpx.AsyncClient(timeout=20, headers=bearer_headers(client="plan-admin")) as admin:
        for member, org in ((MEMBER, ORG_A), (MEMBER_B, ORG_B)):
            for _ in range(150):
                response = await admin.post(f"{stack.url('quality')}/visits", json=visit(org, member))
                if response.status_code == 201:
                    break
                assert response.status_code == 422, response.text
                await asyncio.sleep(0.2)
            else:
                raise AssertionError("the enrolment never reached quality")


async def scored(admin: httpx.AsyncClient, base: str) -> None:
    """The plan scores the month, so A has current results."""
    response = await admin.post(f"{base}/measures/run", json={"period": PERIOD})
    assert response.status_code == 200, response.text
    assert any(r["provider_org_id"] == ORG_A for r in response.json()["results"])


def figures(results: list[dict[str, Any]]) -> list[tuple[Any, ...]]:
    """What a result says, without its run (a late-data recomputation may start a new run)."""
    keys = ("provider_org_id", "measure_id", "numerator", "denominator", "exclusions", "rate")
    return [tuple(r[k] for k in keys) for r in results]


async def catalogue(admin: httpx.AsyncClient, base: str) -> Request:
    return Request("GET", f"{base}/measures")


async def run_now(admin: httpx.AsyncClient, base: str) -> Request:
    return Request("POST", f"{base}/measures/run", json={"period": PERIOD})


async def runs(admin: httpx.AsyncClient, base: str) -> Request:
    await scored(admin, base)
    return Request("GET", f"{base}/measures/runs", params={"period": PERIOD})


async def results(admin: httpx.AsyncClient, base: str) -> Request:
    await scored(admin, base)
    return Request("GET", f"{base}/measures/results", params={"period": PERIOD})


async def results_csv(admin: httpx.AsyncClient, base: str) -> Request:
    await scored(admin, base)
    return Request("GET", f"{base}/measures/results.csv", params={"period": PERIOD})


async def individual_reports(admin: httpx.AsyncClient, base: str) -> Request:
    return Request("GET", f"{base}/fhir/MeasureReport", params={"period": PERIOD, "subject": MEMBER})


async def report_visit(admin: httpx.AsyncClient, base: str) -> Request:
    return Request("POST", f"{base}/visits", json=visit())


async def report_survey(admin: httpx.AsyncClient, base: str) -> Request:
    return Request("POST", f"{base}/surveys", json=survey())


CASES: list[Case] = [
    # The catalogue holds no organization's data: everyone reads it.
    Case("GET", "/measures", catalogue, b_gets=without(ORG_A)),
    # Scoring on demand scores every organization: the plan's alone, A is refused too.
    Case("POST", "/measures/run", run_now, a_gets=(403,)),
    Case("GET", "/measures/runs", runs, b_gets=without(ORG_A)),
    Case("GET", "/measures/results", results, b_gets=without(ORG_A)),
    Case("GET", "/measures/results.csv", results_csv, b_gets=without(ORG_A)),
    Case("GET", "/fhir/MeasureReport", individual_reports, b_gets=without(MEMBER)),
    Case("POST", "/visits", report_visit),
    Case("POST", "/surveys", report_survey),
]


@pytest.mark.parametrize("case", CASES, ids=lambda c: f"{c.method} {c.path}")
async def test_organization_b_never_reaches_organization_a_quality_data(stack: Stack, http, case: Case):
    await check(stack, "quality", case, http)


async def test_a_provider_reads_only_its_own_results_and_is_refused_another_organizations(stack: Stack, http):
    base = stack.url("quality")
    await scored(http, base)
    everyone = (await http.get(f"{base}/measures/results", params={"period": PERIOD})).json()["results"]
    a_results = [r for r in everyone if r["provider_org_id"] == ORG_A]
    b_results = [r for r in everyone if r["provider_org_id"] == ORG_B]
    assert len(a_results) > 0 and len(b_results) > 0  # the plan sees both organizations
    async with client_of(ORG_B) as b:
        own_b = (await b.get(f"{base}/measures/results", params={"period": PERIOD})).json()["results"]
        assert figures(own_b) == figures(b_results)
    async with client_of(ORG_A) as a:
        own = (await a.get(f"{base}/measures/results", params={"period": PERIOD})).json()["results"]
        assert figures(own) == figures(a_results)
        csv_rows = (await a.get(f"{base}/measures/results.csv", params={"period": PERIOD})).text.splitlines()
        assert len(csv_rows) == 1 + len(a_results)
        assert all(row.split(",")[1] == ORG_A for row in csv_rows[1:])
        summary = (await a.get(f"{base}/fhir/MeasureReport", params={"period": PERIOD})).json()
        reporters = {e["resource"]["reporter"]["identifier"]["value"] for e in summary["entry"]}
        assert (summary["total"], reporters) == (len(a_results), {ORG_A})
        individual = await a.get(f"{base}/fhir/MeasureReport", params={"period": PERIOD, "subject": MEMBER})
        assert individual.json()["total"] > 0
        for path, params in (
            ("/measures/results", {"provider_org_id": ORG_B}),
            ("/measures/results.csv", {"provider_org_id": ORG_B}),
            ("/measures/runs", {"provider_org_id": ORG_B}),
            ("/fhir/MeasureReport", {"reporter": ORG_B}),
        ):
            refused = await a.get(f"{base}{path}", params={"period": PERIOD, **params})
            assert refused.status_code == 403, f"{path}: {refused.status_code}"
            field = next(iter(params))
            assert refused.json()["detail"] == [
                {"field": field, "reason": "must be the client's organization"}
            ]


async def test_b_reporting_as_itself_for_a_member_of_a_is_refused_like_an_unknown_member(stack: Stack):
    base = stack.url("quality")
    async with client_of(ORG_B) as b:
        for path, body in (("/visits", visit(ORG_B)), ("/surveys", survey(ORG_B))):
            response = await b.post(f"{base}{path}", json=body)
            assert response.status_code == 422, response.text
            assert response.json()["detail"] == [
                {"field": "member_id", "reason": "no enrolment of this member with provider_org_id"}
            ]


async def test_an_aco_client_is_refused_organization_level_quality_data_but_reads_the_catalogue(
    stack: Stack, http
):
    """Quality receives no ACO attribution, so it cannot tell an ACO's organizations: refused."""
    base = stack.url("quality")
    await scored(http, base)
    async with client_of(ACO_A, org_type="aco") as aco:
        assert (await aco.get(f"{base}/measures")).status_code == 200
        for method, path, params, body in (
            ("GET", "/measures/results", {"period": PERIOD}, None),
            ("GET", "/measures/results.csv", {"period": PERIOD}, None),
            ("GET", "/measures/runs", {"period": PERIOD}, None),
            ("GET", "/fhir/MeasureReport", {"period": PERIOD}, None),
            ("GET", "/fhir/MeasureReport", {"period": PERIOD, "subject": MEMBER}, None),
            ("POST", "/measures/run", {}, {"period": PERIOD}),
            ("POST", "/visits", {}, visit(ACO_A)),
            ("POST", "/surveys", {}, survey(ACO_A)),
        ):
            response = await aco.request(method, f"{base}{path}", params=params, json=body)
            assert response.status_code == 403, f"{method} {path} {params}: {response.status_code}"
            assert ORG_A not in response.text and MEMBER not in response.text
