"""The referral service's access matrix: every endpoint, called by clients of two provider
organizations. Organization A's referrals are the ones it serves (named on the referral, or the
member is attributed to it) or referred; B gets 404 for them, lists and reports without them, its
own idempotency keys and FHIR order ids never answer with A's referral, a lifecycle move or a
coordinator of A's is refused, and importing claims is the plan's alone. Then the attribution path
(eligibility's decision decides who works a referral), the referrer's closed loop, and ACOs, which
see the referrals they made.
"""

import asyncio
import uuid

import httpx
import pytest

from ..stack import Stack
from ..test_referral_case_finding import HEADER, sick_member_lines
from ..test_referral_fhir import FHIR, service_request
from .access import ACO_A, ORG_A, ORG_B, Case, Refusal, Request, client_of, without
from .matrix import check


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


#: What each setup made for A that must stay out of B's answer, by endpoint (setups run first).
MARKERS: dict[str, list[str]] = {}


def mark(endpoint: str, marker: str) -> None:
    MARKERS.setdefault(endpoint, []).append(marker)


def lists_without(endpoint: str) -> Refusal:
    """A list or report: B gets one, without the marker of A's data the setup recorded."""

    def check(response: httpx.Response) -> bool:
        return bool(MARKERS.get(endpoint)) and without(MARKERS[endpoint][-1])(response)

    return check


def answered_without(endpoint: str) -> Refusal:
    """For intake: B's request is served (anyone may refer), but the answer is not A's referral."""

    def check(response: httpx.Response) -> bool:
        return (
            bool(MARKERS.get(endpoint))
            and response.status_code in (200, 201)
            and MARKERS[endpoint][-1] not in response.text
        )

    return check


def no_referrals_counted(response: httpx.Response) -> bool:
    return response.status_code == 200 and all(s["referrals"] == 0 for s in response.json()["sources"])


#: Eligibility's URL in this session (setups get only the referral service's).
ELIGIBILITY: list[str] = []


@pytest.fixture(autouse=True)
def eligibility_url(stack: Stack) -> None:
    ELIGIBILITY[:] = [stack.url("eligibility")]


async def a_covered_member(admin: httpx.AsyncClient) -> str:
    """A member with coverage (attributed to A), so eligibility does not close the referral."""
    member = unique("M-acc")
    coverage = await admin.post(
        f"{ELIGIBILITY[0]}/members/{member}/coverage",
        json={
            "plan_id": "plan-1",
            "line_of_business": "medi_cal",
            "market": "alameda",
            "provider_org_id": ORG_A,
            "start_date": "2026-01-01",
        },
    )
    assert coverage.status_code == 201, coverage.text
    return member


async def a_referral(
    admin: httpx.AsyncClient, base: str, *, referral_date: str = "2026-11-02", referrer_id: str = "ref-access"
) -> str:
    """A referral organization A serves, made by the plan's administrator."""
    response = await admin.post(
        f"{base}/referrals",
        json={
            "member_id": await a_covered_member(admin),
            "source": "aco",
            "referrer_id": referrer_id,
            "referral_date": referral_date,
            "provider_org_id": ORG_A,
        },
    )
    assert response.status_code == 201, response.text
    return str(response.json()["referral_id"])


async def moved(admin: httpx.AsyncClient, base: str, referral_id: str, *steps: str) -> None:
    bodies = {
        "triage": {"actor": "lead-a", "coordinator_id": "coord-access-a"},
        "outreach": {"actor": "coord-access-a"},
        "schedule": {"actor": "coord-access-a", "scheduled_for": "2026-11-20", "mode": "video"},
    }
    for step in steps:
        response = await admin.post(f"{base}/referrals/{referral_id}/{step}", json=bodies[step])
        assert response.status_code == 200, response.text


async def a_coordinator(admin: httpx.AsyncClient, base: str) -> str:
    coordinator_id = unique("coord-a")
    response = await admin.post(
        f"{base}/coordinators", json={"coordinator_id": coordinator_id, "provider_org_id": ORG_A}
    )
    assert response.status_code == 201, response.text
    return coordinator_id


async def a_task(admin: httpx.AsyncClient, base: str, order: str, member: str | None = None) -> dict:
    body = service_request(member or unique("M-acc"), order)
    body["performer"] = [{"reference": f"Organization/{ORG_A}"}]
    response = await admin.post(f"{base}/fhir/ServiceRequest", json=body, headers=FHIR)
    assert response.status_code == 201, response.text
    return dict(response.json())


# --- one setup per endpoint: make A's data through the plan's administrator, return the request ---


async def post_referral(admin: httpx.AsyncClient, base: str) -> Request:
    key = unique("key")
    first = await admin.post(
        f"{base}/referrals",
        json={
            "member_id": unique("M-acc"),
            "source": "ehr",
            "referrer_id": "ref-access",
            "referral_date": "2026-11-03",
            "provider_org_id": ORG_A,
        },
        headers={"Idempotency-Key": key},
    )
    assert first.status_code == 201, first.text
    mark("POST /referrals", first.json()["referral_id"])
    # Another member under the administrator's key: no other organization gets that referral back.
    body = {
        "member_id": unique("M-acc"),
        "source": "ehr",
        "referrer_id": "ref-b",
        "referral_date": "2026-11-03",
    }
    return Request("POST", f"{base}/referrals", json=body, headers={"Idempotency-Key": key})


async def get_referral(admin: httpx.AsyncClient, base: str) -> Request:
    return Request("GET", f"{base}/referrals/{await a_referral(admin, base)}")


async def post_assessment(admin: httpx.AsyncClient, base: str) -> Request:
    referral_id = await a_referral(admin, base)
    await moved(admin, base, referral_id, "triage", "outreach", "schedule")
    body = {"provider_org_id": ORG_A, "assessed_on": "2026-11-20", "mode": "video", "decision": "decline"}
    return Request("POST", f"{base}/referrals/{referral_id}/assessment", json=body)


async def post_triage(admin: httpx.AsyncClient, base: str) -> Request:
    referral_id = await a_referral(admin, base)
    body = {"actor": "lead-a", "coordinator_id": "coord-access-a"}
    return Request("POST", f"{base}/referrals/{referral_id}/triage", json=body)


async def post_outreach(admin: httpx.AsyncClient, base: str) -> Request:
    referral_id = await a_referral(admin, base)
    await moved(admin, base, referral_id, "triage")
    return Request("POST", f"{base}/referrals/{referral_id}/outreach", json={"actor": "coord-access-a"})


async def post_schedule(admin: httpx.AsyncClient, base: str) -> Request:
    referral_id = await a_referral(admin, base)
    await moved(admin, base, referral_id, "triage", "outreach")
    body = {"actor": "coord-access-a", "scheduled_for": "2026-11-25", "mode": "phone"}
    return Request("POST", f"{base}/referrals/{referral_id}/schedule", json=body)


async def post_close(admin: httpx.AsyncClient, base: str) -> Request:
    referral_id = await a_referral(admin, base)
    body = {"actor": "coord-access-a", "outcome": "closed", "reason": "referrer_withdrew"}
    return Request("POST", f"{base}/referrals/{referral_id}/close", json=body)


async def import_referrals(admin: httpx.AsyncClient, base: str) -> Request:
    referral_id = await a_referral(admin, base)
    mark("POST /referrals/import", referral_id)
    line = f"{unique('M-acc')},care_manager,cm-b,2026-11-04,,\n"
    content = (
        "member_id,source,referrer_id,referral_date,provider_org_id,goals_of_care_discussed\n" + line
    ).encode()
    return Request("POST", f"{base}/referrals/import", content=content, headers={"content-type": "text/csv"})


async def post_service_request(admin: httpx.AsyncClient, base: str) -> Request:
    order = unique("order")
    task = await a_task(admin, base, order)
    mark("POST /fhir/ServiceRequest", task["id"])
    # The same order id for another member: a resend only for the organization that sent it.
    return Request(
        "POST", f"{base}/fhir/ServiceRequest", json=service_request(unique("M-acc"), order), headers=FHIR
    )


async def get_task(admin: httpx.AsyncClient, base: str) -> Request:
    task = await a_task(admin, base, unique("order"))
    return Request("GET", f"{base}/fhir/Task/{task['id']}")


async def search_tasks(admin: httpx.AsyncClient, base: str) -> Request:
    task = await a_task(admin, base, unique("order"))
    mark("GET /fhir/Task", task["id"])
    return Request("GET", f"{base}/fhir/Task", params={"based-on": task["basedOn"][0]["reference"]})


async def goals_of_care_report(admin: httpx.AsyncClient, base: str) -> Request:
    referrer = unique("ref-goc")
    await a_referral(admin, base, referrer_id=referrer)
    mark("GET /reports/goals-of-care", referrer)
    return Request("GET", f"{base}/reports/goals-of-care", params={"referrer_id": referrer})


async def conversion_report(admin: httpx.AsyncClient, base: str) -> Request:
    # A day no other test refers on: A's referral is the only one in the range.
    await a_referral(admin, base, referral_date="2026-06-13")
    return Request(
        "GET",
        f"{base}/reports/conversion",
        params={"referred_from": "2026-06-13", "referred_to": "2026-06-13"},
    )


async def post_coordinator(admin: httpx.AsyncClient, base: str) -> Request:
    coordinator_id = await a_coordinator(admin, base)
    body = {"coordinator_id": coordinator_id, "provider_org_id": ORG_A, "active": True}
    return Request("POST", f"{base}/coordinators", json=body)


async def get_coordinators(admin: httpx.AsyncClient, base: str) -> Request:
    mark("GET /coordinators", await a_coordinator(admin, base))
    return Request("GET", f"{base}/coordinators")


async def post_assignment(admin: httpx.AsyncClient, base: str) -> Request:
    coordinator_id = await a_coordinator(admin, base)
    referral_id = await a_referral(admin, base)
    body = {"actor": "lead-a", "coordinator_id": coordinator_id, "reason": "caseload_balancing"}
    return Request("POST", f"{base}/referrals/{referral_id}/assignment", json=body)


async def get_worklist(admin: httpx.AsyncClient, base: str) -> Request:
    await a_coordinator(admin, base)
    mark("GET /worklist", await a_referral(admin, base))
    return Request("GET", f"{base}/worklist")


async def import_claims(admin: httpx.AsyncClient, base: str) -> Request:
    member = unique("CF-acc")
    body = (HEADER + "".join(sick_member_lines(unique("t"), member))).encode()
    return Request(
        "POST",
        f"{base}/claims/import",
        content=body,
        params={"as_of": "2026-11-15"},
        headers={"content-type": "text/csv"},
    )


async def get_evidence(admin: httpx.AsyncClient, base: str) -> Request:
    """A case-finding referral of a member covered through A (so it stays open), triaged to A."""
    member = await a_covered_member(admin)
    body = (HEADER + "".join(sick_member_lines(unique("t"), member))).encode()
    imported = await admin.post(
        f"{base}/claims/import",
        content=body,
        params={"as_of": "2026-11-15"},
        headers={"content-type": "text/csv"},
    )
    assert imported.status_code == 200 and imported.json()["referred"] == 1, imported.text
    # Referring the member again answers with the open (algorithmic) referral.
    linked = await admin.post(
        f"{base}/referrals",
        json={
            "member_id": member,
            "source": "aco",
            "referrer_id": "ref-access",
            "referral_date": "2026-11-15",
        },
    )
    assert linked.status_code == 200, linked.text
    referral_id = linked.json()["referral_id"]
    triaged = await admin.post(
        f"{base}/referrals/{referral_id}/triage",
        json={"actor": "lead-a", "coordinator_id": "coord-access-a", "provider_org_id": ORG_A},
    )
    assert triaged.status_code == 200, triaged.text
    return Request("GET", f"{base}/referrals/{referral_id}/evidence")


CASES: list[Case] = [
    Case("POST", "/referrals", post_referral, b_gets=answered_without("POST /referrals")),
    Case("GET", "/referrals/{referral_id}", get_referral),
    Case("POST", "/referrals/{referral_id}/assessment", post_assessment),
    Case("POST", "/referrals/{referral_id}/triage", post_triage),
    Case("POST", "/referrals/{referral_id}/outreach", post_outreach),
    Case("POST", "/referrals/{referral_id}/schedule", post_schedule),
    Case("POST", "/referrals/{referral_id}/close", post_close),
    Case("POST", "/referrals/import", import_referrals, b_gets=lists_without("POST /referrals/import")),
    Case(
        "POST",
        "/fhir/ServiceRequest",
        post_service_request,
        b_gets=answered_without("POST /fhir/ServiceRequest"),
    ),
    Case("GET", "/fhir/Task/{task_id}", get_task),
    Case("GET", "/fhir/Task", search_tasks, b_gets=lists_without("GET /fhir/Task")),
    Case(
        "GET",
        "/reports/goals-of-care",
        goals_of_care_report,
        b_gets=lists_without("GET /reports/goals-of-care"),
    ),
    Case("GET", "/reports/conversion", conversion_report, b_gets=no_referrals_counted),
    Case("POST", "/coordinators", post_coordinator),
    Case("GET", "/coordinators", get_coordinators, b_gets=lists_without("GET /coordinators")),
    Case("POST", "/referrals/{referral_id}/assignment", post_assignment),
    Case("GET", "/worklist", get_worklist, b_gets=lists_without("GET /worklist")),
    # Claims are the plan's: no provider imports them, its own or another's.
    Case("POST", "/claims/import", import_claims, a_gets=(403,)),
    Case("GET", "/referrals/{referral_id}/evidence", get_evidence),
]


@pytest.mark.parametrize("case", CASES, ids=lambda c: f"{c.method} {c.path}")
async def test_a_referral_client_reaches_only_its_organizations_data(stack: Stack, http, case: Case):
    await check(stack, "referral", case, http)


async def test_the_organization_a_member_is_attributed_to_works_the_referral_and_no_other(stack: Stack, http):
    """Nobody names an organization on the referral: eligibility's decision attributes the member to
    A (the coverage says so), so A's client reads and triages it while B's gets 404."""
    base = stack.url("referral")
    member = await a_covered_member(http)
    created = await http.post(
        f"{base}/referrals",
        json={"member_id": member, "source": "aco", "referrer_id": "ref-attr", "referral_date": "2026-11-05"},
    )
    referral_id = created.json()["referral_id"]
    async with client_of(ORG_A) as a, client_of(ORG_B) as b:
        for _ in range(100):  # the decision travels over the broker
            if (await a.get(f"{base}/referrals/{referral_id}")).status_code == 200:
                break
            await asyncio.sleep(0.1)
        seen = await a.get(f"{base}/referrals/{referral_id}")
        assert seen.status_code == 200, seen.text
        triage = {"actor": "lead-a", "coordinator_id": "coord-access-a"}
        assert (await b.post(f"{base}/referrals/{referral_id}/triage", json=triage)).status_code == 404
        assert (await b.get(f"{base}/referrals/{referral_id}")).status_code == 404
        triaged = await a.post(f"{base}/referrals/{referral_id}/triage", json=triage)
    assert triaged.status_code == 200, triaged.text
    assert triaged.json()["status"] == "triaged"


async def test_an_ehr_refers_any_member_and_follows_its_task_but_does_not_move_the_referral(
    stack: Stack, http
):
    """B's EHR refers a member A serves: B's Task answers B, B reads the referral's status, B may
    not triage it (403), and the same order id from another organization is a new order."""
    base = stack.url("referral")
    async with client_of(ORG_B) as b, client_of(ORG_A) as a:
        body = service_request(await a_covered_member(http), "order-ehr-b")
        body["performer"] = [{"reference": f"Organization/{ORG_A}"}]
        sent = await b.post(f"{base}/fhir/ServiceRequest", json=body, headers=FHIR)
        assert sent.status_code == 201, sent.text
        task = sent.json()
        referral_id = task["identifier"][0]["value"]
        assert (await b.get(f"{base}/fhir/Task/{task['id']}")).status_code == 200
        assert (await a.get(f"{base}/fhir/Task/{task['id']}")).status_code == 200
        assert (await b.get(f"{base}/referrals/{referral_id}")).json()["status"] == "received"
        refused_triage = await b.post(
            f"{base}/referrals/{referral_id}/triage", json={"actor": "b", "coordinator_id": "coord-b"}
        )
        assert refused_triage.status_code == 403, refused_triage.text
        resent = await b.post(f"{base}/fhir/ServiceRequest", json=body, headers=FHIR)
        assert (resent.status_code, resent.json()["id"]) == (200, task["id"])
    async with client_of("org-access-c") as c:
        assert (await c.get(f"{base}/fhir/Task/{task['id']}")).status_code == 404
        other = await c.post(f"{base}/fhir/ServiceRequest", json=body, headers=FHIR)
        # C's order of its own (the same id in C's system): its own Task on the member's referral.
        assert other.status_code == 201, other.text
        assert other.json()["id"] != task["id"]
        assert other.json()["identifier"][0]["value"] == referral_id


async def test_an_aco_sees_the_referrals_it_made_and_another_aco_does_not(stack: Stack, member_id):
    base = stack.url("referral")
    referrer = unique("aco-ref")
    async with client_of(ACO_A, org_type="aco") as aco, client_of("aco-access-b", org_type="aco") as other:
        made = await aco.post(
            f"{base}/referrals",
            json={
                "member_id": member_id,
                "source": "aco",
                "referrer_id": referrer,
                "referral_date": "2026-11-06",
            },
        )
        assert made.status_code == 201, made.text
        referral_id = made.json()["referral_id"]
        assert (await aco.get(f"{base}/referrals/{referral_id}")).status_code == 200
        assert (await other.get(f"{base}/referrals/{referral_id}")).status_code == 404
        own = await aco.get(f"{base}/reports/goals-of-care", params={"referrer_id": referrer})
        theirs = await other.get(f"{base}/reports/goals-of-care", params={"referrer_id": referrer})
    assert [(r["referrer_id"], r["referrals"]) for r in own.json()["referrers"]] == [(referrer, 1)]
    assert theirs.json()["referrers"] == []


async def test_a_provider_cannot_take_over_another_organizations_coordinator(stack: Stack, http):
    base = stack.url("referral")
    coordinator_id = await a_coordinator(http, base)
    async with client_of(ORG_B) as b:
        hijack = await b.post(
            f"{base}/coordinators", json={"coordinator_id": coordinator_id, "provider_org_id": ORG_B}
        )
        listed = await b.get(f"{base}/coordinators", params={"provider_org_id": ORG_A})
    assert hijack.status_code == 403, hijack.text
    assert listed.status_code == 403
    coordinators = (await http.get(f"{base}/coordinators", params={"provider_org_id": ORG_A})).json()
    assert coordinator_id in {c["coordinator_id"] for c in coordinators["coordinators"]}
