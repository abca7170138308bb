"""The quarterback's queue over HTTP: automatic assignment by organization and caseload,
reassignment with who and why, and the worklist's ages and overdue flags."""

import asyncio
import uuid

from .stack import Stack


async def register(stack: Stack, http, coordinator_id: str, org: str) -> None:
    response = await http.post(
        f"{stack.url('referral')}/coordinators",
        json={"coordinator_id": coordinator_id, "provider_org_id": org},
    )
    assert response.status_code == 201, response.text


async def refer(stack: Stack, http, *, org: str | None, day: str) -> dict:
    """A covered member's referral (eligibility would close an uncovered one as ineligible)."""
    member_id = f"M-{uuid.uuid4().hex[:12]}"
    coverage = await http.post(
        f"{stack.url('eligibility')}/members/{member_id}/coverage",
        json={
            "plan_id": "plan-1",
            "line_of_business": "medi_cal",
            "market": "alameda",
            "start_date": "2026-01-01",
        },
    )
    assert coverage.status_code == 201, coverage.text
    body = {
        "member_id": member_id,
        "source": "aco",
        "referrer_id": "aco-queue",
        "referral_date": day,
    }
    if org is not None:
        body["provider_org_id"] = org
    created = await http.post(f"{stack.url('referral')}/referrals", json=body)
    assert created.status_code == 201, created.text
    return created.json()


async def open_caseloads(stack: Stack, http, *coordinator_ids: str) -> dict[str, int]:
    listed = await http.get(f"{stack.url('referral')}/coordinators")
    assert listed.status_code == 200, listed.text
    loads = {c["coordinator_id"]: c["open_referrals"] for c in listed.json()["coordinators"]}
    return {c: loads[c] for c in coordinator_ids}


async def test_new_referrals_go_to_the_organizations_lightest_coordinator_and_show_on_the_worklist(
    stack: Stack, http
):
    base = stack.url("referral")
    tag = uuid.uuid4().hex[:8]
    org, other_org = f"org-{tag}", f"org-other-{tag}"
    first, second, elsewhere = f"c1-{tag}", f"c2-{tag}", f"c3-{tag}"
    for coordinator, organization in ((first, org), (second, org), (elsewhere, other_org)):
        await register(stack, http, coordinator, organization)
    # Friday 2026-11-20: first contact due Tuesday 24th, assessment due 2026-12-04.
    referrals = [(await refer(stack, http, org=org, day="2026-11-20"))["referral_id"] for _ in range(3)]
    worklist = await http.get(f"{base}/worklist", params={"provider_org_id": org, "as_of": "2026-11-25"})
    assert worklist.status_code == 200, worklist.text
    by_coordinator = {c["coordinator_id"]: c for c in worklist.json()["coordinators"]}
    # Both start empty: c1 (by id), then c2 (0 open), then c1 again (both at 1).
    assert {c: sorted(r["referral_id"] for r in by_coordinator[c]["referrals"]) for c in by_coordinator} == {
        first: sorted([referrals[0], referrals[2]]),
        second: [referrals[1]],
    }
    item = by_coordinator[second]["referrals"][0]
    assert (item["age_days"], item["age_business_days"], item["first_contact_due"]) == (5, 3, "2026-11-24")
    assert (item["first_contact_overdue"], item["assessment_overdue"]) == (True, False)
    assert by_coordinator[first]["first_contact_overdue"] == 2
    assert await open_caseloads(stack, http, first, second, elsewhere) == {first: 2, second: 1, elsewhere: 0}

    # Outreach on one referral counts as first contact; after 14 days all are late for assessment.
    moved = await http.post(
        f"{base}/referrals/{referrals[0]}/triage", json={"actor": first, "coordinator_id": first}
    )
    assert moved.status_code == 200, moved.text
    assert (
        await http.post(f"{base}/referrals/{referrals[0]}/outreach", json={"actor": first})
    ).status_code == 200
    later = await http.get(f"{base}/worklist", params={"coordinator": first, "as_of": "2026-12-05"})
    items = {r["referral_id"]: r for c in later.json()["coordinators"] for r in c["referrals"]}
    assert items[referrals[0]]["first_contact_overdue"] is False
    assert items[referrals[2]]["first_contact_overdue"] is True
    assert all(i["assessment_overdue"] for i in items.values())


async def test_reassignment_records_who_and_why_and_refuses_unknown_coordinators_and_closed_referrals(
    stack: Stack, http
):
    base = stack.url("referral")
    tag = uuid.uuid4().hex[:8]
    org, coordinator, helper = f"org-{tag}", f"c1-{tag}", f"c9-{tag}"
    await register(stack, http, coordinator, org)
    await register(stack, http, helper, f"org-help-{tag}")
    referral_id = (await refer(stack, http, org=org, day="2026-11-20"))["referral_id"]
    moved = await http.post(
        f"{base}/referrals/{referral_id}/assignment",
        json={"actor": "lead-1", "coordinator_id": helper, "reason": "caseload_balancing"},
    )
    assert moved.status_code == 200, moved.text
    assert [(a["coordinator_id"], a["actor"], a["reason"]) for a in moved.json()["assignments"]] == [
        (coordinator, "hearth-referral", f"attributed organization {org}, lightest caseload (0 open)"),
        (helper, "lead-1", "caseload_balancing"),
    ]
    # The caseloads move with the referral, and closing it frees the helper's slot.
    assert await open_caseloads(stack, http, coordinator, helper) == {coordinator: 0, helper: 1}
    unknown = await http.post(
        f"{base}/referrals/{referral_id}/assignment",
        json={"actor": "lead-1", "coordinator_id": f"nobody-{tag}", "reason": "caseload_balancing"},
    )
    assert unknown.status_code == 422 and unknown.json()["detail"][0]["field"] == "body.coordinator_id"
    bad_reason = await http.post(
        f"{base}/referrals/{referral_id}/assignment",
        json={"actor": "lead-1", "coordinator_id": helper, "reason": "felt like it"},
    )
    assert bad_reason.status_code == 422
    closed = await http.post(
        f"{base}/referrals/{referral_id}/close",
        json={"actor": "lead-1", "outcome": "closed", "reason": "referrer_withdrew"},
    )
    assert closed.status_code == 200, closed.text
    assert await open_caseloads(stack, http, coordinator, helper) == {coordinator: 0, helper: 0}
    refused = await http.post(
        f"{base}/referrals/{referral_id}/assignment",
        json={"actor": "lead-1", "coordinator_id": coordinator, "reason": "member_request"},
    )
    assert refused.status_code == 409


async def test_a_referral_without_an_organization_follows_the_members_attribution_from_eligibility(
    stack: Stack, http
):
    base = stack.url("referral")
    tag = uuid.uuid4().hex[:8]
    org, coordinator = f"org-{tag}", f"c1-{tag}"
    await register(stack, http, coordinator, org)
    member_id = f"M-{uuid.uuid4().hex[:12]}"
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
    created = await http.post(
        f"{base}/referrals",
        json={
            "member_id": member_id,
            "source": "aco",
            "referrer_id": "aco-queue",
            "referral_date": "2026-11-20",
        },
    )
    referral_id = created.json()["referral_id"]
    await stack.wait_for_event(
        "eligibility.events",
        lambda e: (
            e.type == "hearth.eligibility.EligibilityDetermined.v1"
            and e.data.get("referral_id") == referral_id
        ),
    )
    for _ in range(300):  # the referral service consumes the decision asynchronously
        worklist = (await http.get(f"{base}/worklist", params={"coordinator": coordinator})).json()
        if worklist["coordinators"]:
            break
        await asyncio.sleep(0.2)
    assert [r["referral_id"] for r in worklist["coordinators"][0]["referrals"]] == [referral_id]
