"""The eligibility service over the real broker and Postgres: coverage on the referral date,
clinical criteria from versioned data, enrolment once, tiers, disenrolment, and an assessment
that arrives before its referral."""

import asyncio
import uuid
from datetime import UTC, date, datetime

from hearth_schemas import AssessmentCompleted, ReferralReceived

from .stack import Stack

DETERMINED = "hearth.eligibility.EligibilityDetermined.v1"
ENROLLED = "hearth.eligibility.MemberEnrolled.v1"
TIER_CHANGED = "hearth.eligibility.TierChanged.v1"
DISENROLLED = "hearth.eligibility.MemberDisenrolled.v1"


def referral(member_id: str, on: date = date(2026, 10, 1)) -> ReferralReceived:
    return ReferralReceived(
        referral_id=f"ref-{uuid.uuid4().hex[:10]}",
        member_id=member_id,
        source="ehr",
        referrer_id="dr-1",
        referral_date=on,
        received_at=datetime.now(UTC),
        provider_org_id="org-referred",
    )


def assessment(member_id: str, referral_id: str, **findings) -> AssessmentCompleted:
    fields = {
        "assessment_id": f"as-{uuid.uuid4().hex[:10]}",
        "referral_id": referral_id,
        "member_id": member_id,
        "provider_org_id": "org-assessing",
        "assessed_on": date(2026, 10, 5),
        "mode": "in_person",
        "decision": "enrol",
        "age_years": 77,
        "primary_condition": "copd",
        "fev1_percent": 30,
        "oxygen_lpm": 2.0,
        "karnofsky": 60,
    }
    return AssessmentCompleted(**(fields | findings))


async def cover(stack: Stack, http, member_id: str, org: str, start: str = "2026-01-01", **extra) -> dict:
    response = await http.post(
        f"{stack.url('eligibility')}/members/{member_id}/coverage",
        json={
            "plan_id": "plan-9",
            "line_of_business": "d_snp",
            "market": "fresno",
            "provider_org_id": org,
            "start_date": start,
            **extra,
        },
    )
    assert response.status_code == 201, response.text
    return response.json()


def of(member_id: str, event_type: str):
    return lambda e: e.subject == member_id and e.type == event_type


async def test_an_assessment_that_arrives_before_its_referral_is_parked_and_decided_later(
    stack: Stack, http, member_id
):
    org = f"org-{uuid.uuid4().hex[:6]}"
    await cover(stack, http, member_id, org)
    ref = referral(member_id)
    early = assessment(member_id, ref.referral_id)

    await stack.publish(early)
    await asyncio.sleep(2)
    assert stack.events("eligibility.events", of(member_id, DETERMINED)) == []
    await stack.publish(ref)

    enrolled = await stack.wait_for_event("eligibility.events", of(member_id, ENROLLED))
    assert enrolled.data["assessment_id"] == early.assessment_id
    assert enrolled.data["provider_org_id"] == org  # the coverage span's attributed organization
    assert (enrolled.data["line_of_business"], enrolled.data["market"]) == ("d_snp", "fresno")
    stages = [e.data["stage"] for e in stack.events("eligibility.events", of(member_id, DETERMINED))]
    assert stages == ["coverage", "clinical"]


async def test_a_referral_without_coverage_on_its_date_is_ineligible_once(stack: Stack, http, member_id):
    await cover(stack, http, member_id, "org-x", start="2026-11-01")
    ref = referral(member_id, on=date(2026, 10, 15))
    await stack.publish(ref)
    await stack.publish(ref)  # delivered again under a new event id: still one decision

    decided = await stack.wait_for_event("eligibility.events", of(member_id, DETERMINED))
    assert decided.data["eligible"] is False
    assert decided.data["reasons"] == ["no_coverage_on_referral_date"]
    await asyncio.sleep(1.5)
    assert len(stack.events("eligibility.events", of(member_id, DETERMINED))) == 1
    determinations = (await http.get(f"{stack.url('eligibility')}/members/{member_id}/determinations")).json()
    assert [(d["stage"], d["eligible"]) for d in determinations] == [("coverage", False)]


async def test_reassessment_moves_the_tier_and_disenrolment_goes_out_with_its_past_date(
    stack: Stack, http, member_id
):
    await cover(stack, http, member_id, "org-t")
    ref = referral(member_id)
    await stack.publish(ref)
    await stack.publish(assessment(member_id, ref.referral_id))
    enrolled = await stack.wait_for_event("eligibility.events", of(member_id, ENROLLED))
    assert enrolled.data["tier"] == "moderate"

    worse = assessment(member_id, ref.referral_id, assessed_on=date(2026, 11, 3), karnofsky=30)
    await stack.publish(worse)
    changed = await stack.wait_for_event("eligibility.events", of(member_id, TIER_CHANGED))
    assert (changed.data["from_tier"], changed.data["to_tier"], changed.data["effective_date"]) == (
        "moderate",
        "high",
        "2026-11-03",
    )
    base = stack.url("eligibility")
    determinations = (await http.get(f"{base}/members/{member_id}/determinations")).json()
    clinical = [d for d in determinations if d["stage"] == "clinical"]
    assert [d["criteria_version"] for d in clinical] == ["2026.1", "2026.1"]
    assert clinical[0]["explanation"]["criteria_results"][-1]["id"] == "copd"

    gone = await http.post(
        f"{base}/members/{member_id}/disenrol", json={"reason": "death", "effective_date": "2026-10-20"}
    )
    assert gone.status_code == 200, gone.text
    disenrolled = await stack.wait_for_event("eligibility.events", of(member_id, DISENROLLED))
    assert (disenrolled.data["reason"], disenrolled.data["effective_date"]) == ("death", "2026-10-20")
    again = await http.post(
        f"{base}/members/{member_id}/disenrol", json={"reason": "death", "effective_date": "2026-10-20"}
    )
    assert again.status_code == 409
    enrolment = (await http.get(f"{base}/members/{member_id}/enrolment")).json()
    assert (enrolment["status"], enrolment["tier"]) == ("disenrolled", "high")
    assert [h["kind"] for h in enrolment["history"]] == ["enrolled", "tier_changed", "disenrolled"]


async def test_overlapping_coverage_is_refused_and_a_correction_is_answered_as_of_when_it_was_known(
    stack: Stack, http, member_id
):
    base = stack.url("eligibility")
    first = await cover(stack, http, member_id, "org-c", end_date="2026-12-31")
    overlap = await http.post(
        f"{base}/members/{member_id}/coverage",
        json={
            "plan_id": "plan-2",
            "line_of_business": "medi_cal",
            "market": "fresno",
            "start_date": "2026-06-01",
        },
    )
    assert overlap.status_code == 409
    assert first["span_id"] in overlap.json()["message"]

    corrected = await cover(
        stack, http, member_id, "org-c", end_date="2026-03-31", supersedes_span_id=first["span_id"]
    )
    now = await http.get(f"{base}/members/{member_id}/coverage", params={"on": "2026-05-01"})
    assert now.status_code == 404 and "2026-05-01" in now.json()["message"]
    then = await http.get(
        f"{base}/members/{member_id}/coverage", params={"on": "2026-05-01", "known_at": first["recorded_at"]}
    )
    assert then.json()["span_id"] == first["span_id"]
    march = await http.get(f"{base}/members/{member_id}/coverage", params={"on": "2026-03-31"})
    assert march.json()["span_id"] == corrected["span_id"]


async def test_concurrent_coverage_checks_answered_together_each_get_their_own_answer(stack: Stack, http):
    base = stack.url("eligibility")
    run = uuid.uuid4().hex[:8]
    spans = {}
    for i in range(6):
        member = f"CC-{run}-{i}"
        # Member i is covered from day i+1 of November.
        spans[member] = await cover(stack, http, member, f"org-{i}", start=f"2026-11-0{i + 1}")
    asks = [(m, day) for m in spans for day in ("2026-11-03", "2026-11-20")] + [
        (f"CC-{run}-none", "2026-11-20")
    ]
    answers = await asyncio.gather(
        *(http.get(f"{base}/members/{m}/coverage", params={"on": day}) for m, day in asks)
    )
    got = {
        (m, day): (r.status_code, r.json().get("span_id")) for (m, day), r in zip(asks, answers, strict=True)
    }
    for i, member in enumerate(spans):
        # Covered on the 3rd only when coverage began by then (members 0, 1 and 2).
        assert got[(member, "2026-11-03")] == ((200, spans[member]["span_id"]) if i < 3 else (404, None))
        assert got[(member, "2026-11-20")] == (200, spans[member]["span_id"])
    assert got[(f"CC-{run}-none", "2026-11-20")] == (404, None)
