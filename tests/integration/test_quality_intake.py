"""Visits, surveys and claim lines into quality over HTTP and the real broker, and the measures
they feed: bad reports are refused with a 422 naming the field, good ones move the scores."""

import asyncio
import uuid
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

import httpx

from hearth_schemas import ClaimLineReceived, MemberEnrolled, MonthClosed

from .stack import Stack

# The current month: visits cannot be in the future, and billing (which sees these enrolments
# too) must not find open months before the ones other tests close.
ENROLLED_ON = datetime.now(UTC).date().replace(day=1)
PERIOD = ENROLLED_ON.strftime("%Y-%m")
SCORED = "hearth.quality.PerformanceScored.v1"
ANSWERS = {
    "heard_and_understood": 5,
    "best_interests_first": 4,
    "seen_as_person": 5,
    "understood_what_matters": 5,
}


def visit(member: str, org: str, on: date, **changes: Any) -> dict[str, Any]:
    return {
        "member_id": member,
        "provider_org_id": org,
        "visit_date": on.isoformat(),
        "discipline": "rn",
        "mode": "video",
        "minutes": 45,
    } | changes


def survey(member: str, org: str, on: date, **changes: Any) -> dict[str, Any]:
    return {
        "member_id": member,
        "provider_org_id": org,
        "survey_date": on.isoformat(),
        "mode": "mail",
        "proxy": False,
        **ANSWERS,
    } | changes


async def enrol(stack: Stack, http: httpx.AsyncClient, member: str, org: str) -> None:
    """Publish the enrolment and wait until quality knows it (a visit is then accepted)."""
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
    for _ in range(100):
        response = await http.post(f"{stack.url('quality')}/visits", json=visit(member, org, ENROLLED_ON))
        if response.status_code == 201:
            return
        assert response.status_code == 422 and response.json()["detail"][0]["field"] == "member_id"
        await asyncio.sleep(0.2)
    raise AssertionError("the enrolment never reached quality")


async def run(http: httpx.AsyncClient, stack: Stack, org: str) -> dict[str, dict[str, Any]]:
    response = await http.post(f"{stack.url('quality')}/measures/run", json={"period": PERIOD})
    assert response.status_code == 200, response.text
    return {r["measure_id"]: r for r in response.json()["results"] if r["provider_org_id"] == org}


async def test_visits_for_unknown_members_before_enrolment_or_in_the_future_are_refused(stack: Stack, http):
    org, member = f"org-{uuid.uuid4().hex[:8]}", f"M-{uuid.uuid4().hex[:10]}"
    url = f"{stack.url('quality')}/visits"
    unknown = await http.post(url, json=visit(member, org, ENROLLED_ON))
    assert unknown.status_code == 422
    assert unknown.json()["detail"] == [
        {"field": "member_id", "reason": "no enrolment of this member with provider_org_id"}
    ]
    await enrol(stack, http, member, org)
    other_org = await http.post(url, json=visit(member, f"org-{uuid.uuid4().hex[:8]}", ENROLLED_ON))
    assert (other_org.status_code, other_org.json()["detail"][0]["field"]) == (422, "member_id")
    before = await http.post(url, json=visit(member, org, ENROLLED_ON - timedelta(days=1)))
    assert (before.status_code, before.json()["detail"][0]["field"]) == (422, "visit_date")
    after_tomorrow = datetime.now(UTC).date() + timedelta(days=2)
    future = await http.post(url, json=visit(member, org, after_tomorrow))
    assert (future.status_code, future.json()["detail"][0]["field"]) == (422, "visit_date")
    for field, value in (("minutes", 0), ("minutes", 601), ("discipline", "surgeon"), ("mode", "fax")):
        bad = await http.post(url, json=visit(member, org, ENROLLED_ON, **{field: value}))
        assert (bad.status_code, bad.json()["detail"][0]["field"]) == (422, f"body.{field}")


async def test_a_survey_answer_outside_the_scale_is_refused_naming_the_item(stack: Stack, http):
    org, member = f"org-{uuid.uuid4().hex[:8]}", f"M-{uuid.uuid4().hex[:10]}"
    await enrol(stack, http, member, org)
    url = f"{stack.url('quality')}/surveys"
    for item, value in (("seen_as_person", 6), ("heard_and_understood", 0), ("pain_help", 9)):
        bad = await http.post(url, json=survey(member, org, ENROLLED_ON, **{item: value}))
        assert bad.status_code == 422
        assert [d["field"] for d in bad.json()["detail"]] == [f"body.{item}"]
    missing = survey(member, org, ENROLLED_ON)
    del missing["understood_what_matters"]
    assert (await http.post(url, json=missing)).json()["detail"][0]["field"] == "body.understood_what_matters"
    good = await http.post(url, json=survey(member, org, ENROLLED_ON, pain_help=5))
    assert good.status_code == 201, good.text


async def test_visits_surveys_and_claims_move_the_scores_published_on_month_close(stack: Stack, http):
    org = f"org-{uuid.uuid4().hex[:8]}"
    members = [f"M-{uuid.uuid4().hex[:10]}" for _ in range(5)]
    for member in members:
        await enrol(stack, http, member, org)  # each: one rn video visit on the first
    quality = stack.url("quality")
    extra = await http.post(f"{quality}/visits", json=visit(members[0], org, ENROLLED_ON, mode="in_person"))
    assert extra.status_code == 201
    for i, member in enumerate(members):
        answers = {"heard_and_understood": 5 if i < 4 else 3}
        response = await http.post(f"{quality}/surveys", json=survey(member, org, ENROLLED_ON, **answers))
        assert response.status_code == 201, response.text
    for line, admission in ((1, "emergency"), (2, "emergency")):
        await stack.publish(
            ClaimLineReceived(
                claim_id=f"c-{members[1]}",
                line_number=line,
                member_id=members[1],
                claim_type="inpatient",
                service_from=ENROLLED_ON,
                service_to=ENROLLED_ON,
                admission_type=admission,
                paid_amount=Decimal("1200.00"),
            )
        )
    await stack.publish(
        ClaimLineReceived(
            claim_id=f"ed-{members[2]}",
            line_number=1,
            member_id=members[2],
            claim_type="outpatient",
            service_from=ENROLLED_ON,
            service_to=ENROLLED_ON,
            ed_visit=True,
            paid_amount=Decimal("300.00"),
        )
    )
    for _ in range(100):
        results = await run(http, stack, org)
        if (
            results["unplanned-admissions-per-1000-mm"]["numerator"]
            and results["ed-visits-per-1000-mm"]["numerator"]
        ):
            break
        await asyncio.sleep(0.2)
    admissions = results["unplanned-admissions-per-1000-mm"]
    assert (admissions["numerator"], admissions["denominator"], Decimal(admissions["rate"])) == (
        1,
        5,
        Decimal("0.2"),
    )
    assert Decimal(admissions["scaled_rate"]) == Decimal(2400)
    ed = results["ed-visits-per-1000-mm"]
    assert (ed["numerator"], ed["denominator"]) == (1, 5)
    rn = results["visits-per-member-month-rn"]
    assert (rn["numerator"], rn["denominator"], Decimal(rn["rate"])) == (6, 5, Decimal("1.2"))
    telehealth = results["telehealth-share"]
    assert (telehealth["numerator"], telehealth["denominator"]) == (5, 6)
    heard = results["fhu-top-box-heard-and-understood"]
    assert (heard["numerator"], heard["denominator"], Decimal(heard["rate"]), heard["reported"]) == (
        4,
        5,
        Decimal("0.8"),
        True,
    )
    best = results["fhu-top-box-best-interests-first"]
    assert (best["numerator"], best["denominator"]) == (0, 5)
    plan = results["advance-care-plan-documented"]
    # Enrolled this month with nothing documented: the 30-day window is still open.
    assert (plan["numerator"], plan["denominator"], plan["reported"]) == (0, 0, False)

    close = await stack.publish(
        MonthClosed(
            month=PERIOD,
            closed_at=datetime.now(UTC),
            invoice_ids=[],
            total_amount=Decimal("0.00"),
            member_months=0,
        )
    )
    measure_ids = set(results)
    published = await stack.wait_for_event(
        "quality.events",
        lambda e: e.type == SCORED and e.causation_id == close.id and e.subject == org,
        count=len(measure_ids),
    )
    assert published.data["period"] == PERIOD
    scored = {
        e.data["measure_id"]: e.data
        for e in stack.events(
            "quality.events", lambda e: e.type == SCORED and e.causation_id == close.id and e.subject == org
        )
    }
    assert set(scored) == measure_ids
    assert scored["telehealth-share"]["numerator"] == 5 and scored["telehealth-share"]["run"] >= 1
