"""The quarterback's moves over HTTP: each records who and why, emits its event, and an illegal
move is refused with 409 and the reason."""

from .stack import Stack


async def refer(stack: Stack, http, member_id: str) -> str:
    """A covered member's referral (without coverage, eligibility would close it as ineligible)."""
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
    created = await http.post(
        f"{stack.url('referral')}/referrals",
        json={"member_id": member_id, "source": "aco", "referrer_id": "aco-1", "referral_date": "2026-11-02"},
    )
    assert created.status_code == 201, created.text
    return str(created.json()["referral_id"])


async def test_triage_and_scheduling_emit_their_events_and_record_who_and_why(stack: Stack, http, member_id):
    base = stack.url("referral")
    referral_id = await refer(stack, http, member_id)
    triaged = await http.post(
        f"{base}/referrals/{referral_id}/triage",
        json={"actor": "lead-1", "coordinator_id": "coord-7", "provider_org_id": "org-q"},
    )
    assert triaged.status_code == 200, triaged.text
    assert triaged.json()["status"] == "triaged"
    scheduled = await http.post(
        f"{base}/referrals/{referral_id}/schedule",
        json={"actor": "coord-7", "scheduled_for": "2026-11-10", "mode": "video"},
    )
    assert scheduled.status_code == 200, scheduled.text
    history = scheduled.json()["history"]
    assert [(h["to"], h["actor"], h["reason"]) for h in history[1:]] == [
        ("triaged", "lead-1", "assigned to coordinator coord-7"),
        ("assessment_scheduled", "coord-7", "assessment (video) scheduled for 2026-11-10"),
    ]
    event = await stack.wait_for_event(
        "referral.events",
        lambda e: e.type == "hearth.referral.ReferralTriaged.v1" and e.data.get("referral_id") == referral_id,
    )
    assert (event.data["coordinator_id"], event.data["provider_org_id"]) == ("coord-7", "org-q")
    booked = await stack.wait_for_event(
        "referral.events",
        lambda e: (
            e.type == "hearth.referral.AssessmentScheduled.v1" and e.data.get("referral_id") == referral_id
        ),
    )
    assert (booked.data["scheduled_for"], booked.data["mode"]) == ("2026-11-10", "video")


async def test_unable_to_reach_closes_the_referral_with_its_reason_code(stack: Stack, http, member_id):
    base = stack.url("referral")
    referral_id = await refer(stack, http, member_id)
    for move, body in (
        ("triage", {"actor": "coord-1", "coordinator_id": "coord-1"}),
        ("outreach", {"actor": "coord-1"}),
    ):
        assert (await http.post(f"{base}/referrals/{referral_id}/{move}", json=body)).status_code == 200
    closed = await http.post(
        f"{base}/referrals/{referral_id}/close",
        json={"actor": "coord-1", "outcome": "unable_to_reach", "reason": "no_answer_after_attempts"},
    )
    assert closed.status_code == 200, closed.text
    assert closed.json()["status"] == "unable_to_reach"
    assert closed.json()["history"][-1]["reason"] == "no_answer_after_attempts"
    event = await stack.wait_for_event(
        "referral.events",
        lambda e: e.type == "hearth.referral.ReferralClosed.v1" and e.data.get("referral_id") == referral_id,
    )
    assert event.data["outcome"] == "unable_to_reach"


async def test_illegal_moves_get_409_with_the_reason_and_bad_bodies_422_naming_the_field(
    stack: Stack, http, member_id
):
    base = stack.url("referral")
    referral_id = await refer(stack, http, member_id)
    early = await http.post(f"{base}/referrals/{referral_id}/outreach", json={"actor": "coord-1"})
    assert early.status_code == 409
    assert early.json()["message"].startswith("a referral in status 'received' cannot move to 'outreach'")
    unknown_reason = await http.post(
        f"{base}/referrals/{referral_id}/close",
        json={"actor": "coord-1", "outcome": "closed", "reason": "no_answer_after_attempts"},
    )
    assert unknown_reason.status_code == 422
    assert [d["field"] for d in unknown_reason.json()["detail"]] == ["body.reason"]
    no_actor = await http.post(f"{base}/referrals/{referral_id}/triage", json={"coordinator_id": "coord-1"})
    assert no_actor.status_code == 422
    assert [d["field"] for d in no_actor.json()["detail"]] == ["body.actor"]
    missing = await http.post(f"{base}/referrals/no-such/outreach", json={"actor": "coord-1"})
    assert missing.status_code == 404
    odd = await http.post(f"{base}/referrals/%00/outreach", json={"actor": "coord\u0000"})
    assert odd.status_code == 422
    assert {d["field"] for d in odd.json()["detail"]} == {"path.referral_id", "body.actor"}
    await http.post(f"{base}/referrals/{referral_id}/triage", json={"actor": "c", "coordinator_id": "c"})
    too_early = await http.post(
        f"{base}/referrals/{referral_id}/schedule",
        json={"actor": "c", "scheduled_for": "2026-11-01", "mode": "phone"},
    )
    assert too_early.status_code == 422
    assert too_early.json()["detail"] == [
        {"field": "body.scheduled_for", "reason": "is before the referral date"}
    ]
    assert (await http.get(f"{base}/referrals/{referral_id}")).json()["status"] == "triaged"


async def test_a_nul_byte_in_an_id_is_refused_as_422_never_a_500(stack: Stack, http, member_id):
    base = stack.url("referral")
    referral = {
        "member_id": member_id,
        "source": "aco",
        "referrer_id": "aco\u00001",
        "referral_date": "2026-11-02",
    }
    refused = await http.post(f"{base}/referrals", json=referral)
    assert refused.status_code == 422
    assert [d["field"] for d in refused.json()["detail"]] == ["body.referrer_id"]
    assert (await http.get(f"{base}/referrals/%00")).status_code == 422


async def _assess(stack: Stack, http, referral_id: str, assessed_on: str) -> None:
    """An assessment that meets the heart-failure criteria, the member consenting."""
    assessment = await http.post(
        f"{stack.url('referral')}/referrals/{referral_id}/assessment",
        json={
            "provider_org_id": "org-q",
            "assessed_on": assessed_on,
            "mode": "in_person",
            "decision": "enrol",
            "age_years": 78,
            "primary_condition": "chf",
            "nyha_class": 4,
            "ejection_fraction": 20,
            "karnofsky": 50,
            "surrogate_identified": True,
            "surrogate_relationship": "spouse",
        },
    )
    assert assessment.status_code == 201, assessment.text


async def test_a_referral_of_a_member_already_enrolled_ends_enrolled_after_its_assessment(
    stack: Stack, http, member_id
):
    first = await refer(stack, http, member_id)
    await _assess(stack, http, first, "2026-11-03")
    await stack.wait_for_event(
        "referral.events",
        lambda e: e.type == "hearth.referral.ReferralClosed.v1" and e.data.get("referral_id") == first,
    )
    created = await http.post(
        f"{stack.url('referral')}/referrals",
        json={
            "member_id": member_id,
            "source": "ehr",
            "referrer_id": "clinic-9",
            "referral_date": "2026-11-05",
        },
    )
    assert created.status_code == 201, created.text
    second = created.json()["referral_id"]
    assert second != first
    await _assess(stack, http, second, "2026-11-06")

    closed = await stack.wait_for_event(
        "referral.events",
        lambda e: e.type == "hearth.referral.ReferralClosed.v1" and e.data.get("referral_id") == second,
    )
    assert closed.data["outcome"] == "enrolled"
    referral = (await http.get(f"{stack.url('referral')}/referrals/{second}")).json()
    assert referral["status"] == "enrolled"
    assert referral["history"][-1]["reason"] == "member already enrolled in the program"
    enrolments = stack.events(
        "eligibility.events",
        lambda e: e.type == "hearth.eligibility.MemberEnrolled.v1" and e.subject == member_id,
    )
    assert len(enrolments) == 1
