"""The referral reports over HTTP: the goals-of-care gap per referrer and conversion per source,
with numbers counted by hand from the referrals each test makes."""

import uuid

from .stack import Stack


async def cover(stack: Stack, http, member_id: str) -> None:
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


async def refer(stack: Stack, http, *, source: str, referrer: str, day: str, goc: bool | None = None) -> str:
    member_id = f"M-{uuid.uuid4().hex[:12]}"
    await cover(stack, http, member_id)
    body = {"member_id": member_id, "source": source, "referrer_id": referrer, "referral_date": day}
    if goc is not None:
        body["goals_of_care_discussed"] = goc
    created = await http.post(f"{stack.url('referral')}/referrals", json=body)
    assert created.status_code == 201, created.text
    referral_id = str(created.json()["referral_id"])
    await stack.wait_for_event(
        "eligibility.events",
        lambda e: (
            e.type == "hearth.eligibility.EligibilityDetermined.v1"
            and e.data.get("referral_id") == referral_id
        ),
    )
    return referral_id


async def assess(stack: Stack, http, referral_id: str, decision: str, day: str) -> None:
    response = await http.post(
        f"{stack.url('referral')}/referrals/{referral_id}/assessment",
        json={
            "provider_org_id": "org-reports",
            "assessed_on": day,
            "mode": "video",
            "decision": decision,
            "age_years": 79,
            "primary_condition": "chf",
            "nyha_class": 4,
            "ejection_fraction": 20,
            "karnofsky": 40,
        },
    )
    assert response.status_code == 201, response.text


async def test_goals_of_care_report_counts_each_referrers_referrals_without_the_conversation(
    stack: Stack, http
):
    often, always = f"dr-{uuid.uuid4().hex[:8]}", f"dr-{uuid.uuid4().hex[:8]}"
    base = stack.url("referral")
    for referrer, goc in ((often, True), (often, False), (often, None), (always, True)):
        body = {
            "member_id": f"M-{uuid.uuid4().hex[:12]}",
            "source": "ehr",
            "referrer_id": referrer,
            "referral_date": "2026-11-03",
        }
        if goc is not None:
            body["goals_of_care_discussed"] = goc
        assert (await http.post(f"{base}/referrals", json=body)).status_code == 201
    report = await http.get(f"{base}/reports/goals-of-care", params={"referrer_id": [often, always]})
    assert report.status_code == 200, report.text
    rows = {r["referrer_id"]: r for r in report.json()["referrers"]}
    # 3 referrals, 1 with the conversation, 1 without, 1 silent: 2 of 3 lacked it = 66.7 %.
    assert rows[often]["referrals"] == 3
    assert rows[often]["without_goals_of_care"] == 2
    assert rows[often]["of_which_not_stated"] == 1
    assert rows[often]["percent_without_goals_of_care"] == 66.7
    assert (rows[always]["without_goals_of_care"], rows[always]["percent_without_goals_of_care"]) == (0, 0.0)


async def test_conversion_report_counts_assessments_and_enrolments_per_source(stack: Stack, http):
    # Referral dates in March 2031: no other test refers members then.
    ehr = [await refer(stack, http, source="ehr", referrer="dr-conv", day=f"2031-03-0{d}") for d in (2, 3, 4)]
    aco = [await refer(stack, http, source="aco", referrer="aco-conv", day=f"2031-03-0{d}") for d in (5, 6)]
    await assess(stack, http, ehr[0], "enrol", "2031-03-10")
    await assess(stack, http, ehr[1], "decline", "2031-03-10")
    await assess(stack, http, aco[0], "decline", "2031-03-11")
    await stack.wait_for_event(
        "referral.events",
        lambda e: e.type == "hearth.referral.ReferralClosed.v1" and e.data.get("referral_id") == ehr[0],
        timeout=60,  # assessment -> eligibility enrols -> referral closes: three services under load
    )
    report = await http.get(
        f"{stack.url('referral')}/reports/conversion",
        params={"referred_from": "2031-03-01", "referred_to": "2031-03-31"},
    )
    assert report.status_code == 200, report.text
    rows = {r["source"]: r for r in report.json()["sources"]}
    # EHR: 3 referred, 2 assessed (66.7 %), 1 enrolled (33.3 %); ACO: 2 referred, 1 assessed, none enrolled.
    assert (rows["ehr"]["referrals"], rows["ehr"]["assessed"], rows["ehr"]["enrolled"]) == (3, 2, 1)
    assert (rows["ehr"]["percent_assessed"], rows["ehr"]["percent_enrolled"]) == (66.7, 33.3)
    assert (rows["aco"]["referrals"], rows["aco"]["assessed"], rows["aco"]["enrolled"]) == (2, 1, 0)
    assert (rows["aco"]["percent_assessed"], rows["aco"]["percent_enrolled"]) == (50.0, 0.0)
    assert rows["algorithm"] == {
        "source": "algorithm",
        "referrals": 0,
        "assessed": 0,
        "enrolled": 0,
        "percent_assessed": None,
        "percent_enrolled": None,
    }


async def test_a_report_range_that_ends_before_it_starts_is_refused(stack: Stack, http):
    report = await http.get(
        f"{stack.url('referral')}/reports/conversion",
        params={"referred_from": "2031-03-31", "referred_to": "2031-03-01"},
    )
    assert report.status_code == 422
    assert report.json()["detail"][0]["field"] == "query.referred_to"
