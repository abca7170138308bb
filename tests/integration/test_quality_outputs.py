"""Quality's outputs over the real broker and Postgres: quarter results, CSV, FHIR MeasureReports
(validated by fhir.resources), and a new result version after late facts, computed once for a
burst of facts and stating what changed."""

import asyncio
import csv
import io
import uuid
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

import httpx
from fhir.resources.R4B.bundle import Bundle
from fhir.resources.R4B.measurereport import MeasureReport

from hearth_schemas import AssessmentCompleted, ClaimLineReceived, MemberEnrolled, ReferralReceived

from .stack import Stack

SCORED = "hearth.quality.PerformanceScored.v1"


def enrolled(member: str, org: str, on: date) -> MemberEnrolled:
    return MemberEnrolled(
        enrollment_id=f"e-{member}",
        member_id=member,
        provider_org_id=org,
        tier="moderate",
        effective_date=on,
        consent_on=on,
    )


def ed_visit(member: str, on: date) -> ClaimLineReceived:
    return ClaimLineReceived(
        claim_id=f"ed-{member}-{on}",
        line_number=1,
        member_id=member,
        claim_type="outpatient",
        service_from=on,
        service_to=on,
        ed_visit=True,
        paid_amount=Decimal("310.00"),
    )


def mine(results: list[dict[str, Any]], org: str) -> dict[str, dict[str, Any]]:
    return {r["measure_id"]: r for r in results if r["provider_org_id"] == org}


async def run_until(http: httpx.AsyncClient, stack: Stack, period: str, org: str, ready) -> dict[str, Any]:
    for _ in range(100):
        response = await http.post(f"{stack.url('quality')}/measures/run", json={"period": period})
        assert response.status_code == 200, response.text
        results = mine(response.json()["results"], org)
        # Measures appear as the organization's facts arrive: a referral consumed before any
        # enrolment gives it the referral measure only, so a measure not there yet is not ready.
        try:
            done = bool(results) and ready(results)
        except KeyError:
            done = False
        if done:
            return response.json()
        await asyncio.sleep(0.2)
    raise AssertionError(f"{org} never got the expected facts for {period}")


async def test_a_quarter_is_scored_per_organization_and_served_as_csv_and_fhir(stack: Stack, http):
    """m1 enrolled 1 April (3 member-months in Q2), m2 10 May (2): 5 member-months, one
    emergency admission of m1 in May; m1's referral of 1 April assessed on the 5th."""
    org = f"org-{uuid.uuid4().hex[:8]}"
    m1, m2 = (f"M-{uuid.uuid4().hex[:10]}" for _ in range(2))
    referral = str(uuid.uuid4())
    await stack.publish(enrolled(m1, org, date(2030, 4, 1)))
    await stack.publish(enrolled(m2, org, date(2030, 5, 10)))
    await stack.publish(
        ReferralReceived(
            referral_id=referral,
            member_id=m1,
            source="care_manager",
            referrer_id="cm-1",
            referral_date=date(2030, 4, 1),
            received_at=datetime(2030, 4, 1, 9, tzinfo=UTC),
            provider_org_id=org,
        )
    )
    await stack.publish(
        AssessmentCompleted(
            assessment_id=str(uuid.uuid4()),
            referral_id=referral,
            member_id=m1,
            provider_org_id=org,
            assessed_on=date(2030, 4, 5),
            mode="in_person",
            decision="enrol",
            surrogate_identified=True,
            primary_condition="chf",
            pps=40,
            esas_total=31,
        )
    )
    await stack.publish(
        ClaimLineReceived(
            claim_id=f"ip-{m1}",
            line_number=1,
            member_id=m1,
            claim_type="inpatient",
            service_from=date(2030, 5, 3),
            service_to=date(2030, 5, 5),
            admission_type="emergency",
            paid_amount=Decimal("9100.00"),
        )
    )
    outcome = await run_until(
        http,
        stack,
        "2030-Q2",
        org,
        lambda r: (
            r["unplanned-admissions-per-1000-mm"]["numerator"] == 1
            and r["unplanned-admissions-per-1000-mm"]["denominator"] == 5
            and r["assessment-within-14-days-of-referral"]["denominator"] == 1
            and r["assessment-fields-complete"]["numerator"] == 1
        ),
    )
    quality = stack.url("quality")
    current = (
        await http.get(f"{quality}/measures/results", params={"period": "2030-Q2", "provider_org_id": org})
    ).json()
    results = mine(current["results"], org)
    admissions = results["unplanned-admissions-per-1000-mm"]
    assert (admissions["period"], Decimal(admissions["rate"]), Decimal(admissions["scaled_rate"])) == (
        "2030-Q2",
        Decimal("0.2"),
        Decimal(2400),
    )
    # m2's 30-day window closed on 9 June without a surrogate: 1 of 2.
    assert (
        results["assessment-within-14-days-of-referral"]["numerator"],
        results["surrogate-identified"]["rate"],
    ) == (
        1,
        "0.500000",
    )
    # Q2 has 91 days: m1 91 enrolled, 3 inpatient days away; m2 52 enrolled from 10 May.
    days = results["days-at-home-per-member-year"]
    assert (days["numerator"], days["denominator"]) == (140, 143)
    assert {r["run"] for r in current["results"]} == {outcome["run"]}

    table = await http.get(
        f"{quality}/measures/results.csv", params={"period": "2030-Q2", "provider_org_id": org}
    )
    assert table.status_code == 200 and table.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(table.text)))
    assert table.text.startswith("period,provider_org_id,measure_id,measure_version,numerator,denominator")
    by_measure = {r["measure_id"]: r for r in rows}
    assert set(by_measure) == set(results)
    assert (
        by_measure["unplanned-admissions-per-1000-mm"]["numerator"],
        by_measure["days-at-home-per-member-year"]["denominator"],
    ) == ("1", "143")

    summary = await http.get(f"{quality}/fhir/MeasureReport", params={"period": "2030-Q2", "reporter": org})
    assert summary.headers["content-type"].startswith("application/fhir+json")
    reports = [
        MeasureReport.model_validate(e.resource.model_dump())
        for e in Bundle.model_validate(summary.json()).entry
    ]
    assert {r.type for r in reports} == {"summary"} and len(reports) == len(results)
    report = next(r for r in reports if r.measure.endswith("/unplanned-admissions-per-1000-mm|1"))
    assert report.id == admissions["score_id"]
    assert {p.code.coding[0].code: p.count for p in report.group[0].population}["denominator"] == 5

    individual = await http.get(f"{quality}/fhir/MeasureReport", params={"period": "2030-Q2", "subject": m1})
    member_reports = [
        MeasureReport.model_validate(e.resource.model_dump())
        for e in Bundle.model_validate(individual.json()).entry
    ]
    assert {(r.type, r.subject.identifier.value) for r in member_reports} == {("individual", m1)}
    admitted = next(r for r in member_reports if r.measure.endswith("/unplanned-admissions-per-1000-mm|1"))
    assert {p.code.coding[0].code: p.count for p in admitted.group[0].population} == {
        "denominator": 3,
        "denominator-exclusion": 0,
        "numerator": 1,
    }


async def test_late_claims_and_an_assessment_make_one_new_version_that_says_what_changed(stack: Stack, http):
    org = f"org-{uuid.uuid4().hex[:8]}"
    member = f"M-{uuid.uuid4().hex[:10]}"
    period = "2030-08"
    await stack.publish(enrolled(member, org, date(2030, 8, 1)))
    first = await run_until(
        http,
        stack,
        period,
        org,
        lambda r: (
            (r["surrogate-identified"]["numerator"], r["surrogate-identified"]["denominator"]) == (0, 1)
        ),
    )

    late = [ed_visit(member, date(2030, 8, d)) for d in (3, 9, 17)]
    late.append(
        AssessmentCompleted(
            assessment_id=str(uuid.uuid4()),
            referral_id=str(uuid.uuid4()),
            member_id=member,
            provider_org_id=org,
            assessed_on=date(2030, 8, 12),
            mode="video",
            decision="enrol",
            surrogate_identified=True,
        )
    )
    for event in late:
        await stack.publish(event)

    quality = stack.url("quality")
    for _ in range(150):
        runs = (
            await http.get(f"{quality}/measures/runs", params={"period": period, "provider_org_id": org})
        ).json()
        latest = mine(runs[-1]["results"], org)
        if (
            runs[-1]["trigger"] == "late_data"
            and latest["ed-visits-per-1000-mm"]["numerator"] == 3
            and latest["surrogate-identified"]["numerator"] == 1
        ):
            break
        await asyncio.sleep(0.2)
    else:
        raise AssertionError("late facts never produced a new version")
    later = [r for r in runs if r["run"] > first["run"]]
    assert all(r["trigger"] == "late_data" for r in later)
    assert len(later) < len(late), "one recomputation per late fact: not coalesced"
    # The earlier version is kept as it was.
    kept = next(r for r in runs if r["run"] == first["run"])
    assert mine(kept["results"], org)["surrogate-identified"]["numerator"] == 0
    changed = {c["measure_id"]: c for r in later for c in r["changes"] if c["provider_org_id"] == org}
    assert (
        changed["surrogate-identified"]["previous"]["numerator"],
        changed["surrogate-identified"]["new"]["numerator"],
    ) == (0, 1)
    assert Decimal(changed["surrogate-identified"]["new"]["rate"]) == Decimal(1)
    assert (
        changed["ed-visits-per-1000-mm"]["previous"]["numerator"],
        changed["ed-visits-per-1000-mm"]["new"]["numerator"],
    ) == (0, 3)
    assert "telehealth-share" not in changed
    current = mine(
        (
            await http.get(f"{quality}/measures/results", params={"period": period, "provider_org_id": org})
        ).json()["results"],
        org,
    )
    assert current["ed-visits-per-1000-mm"]["run"] == runs[-1]["run"]
    scored = await stack.wait_for_event(
        "quality.events",
        lambda e: e.type == SCORED and e.data["score_id"] == current["ed-visits-per-1000-mm"]["score_id"],
    )
    assert (scored.data["numerator"], scored.data["run"]) == (3, runs[-1]["run"])


async def test_the_new_endpoints_refuse_a_malformed_period_or_member_naming_the_field(stack: Stack, http):
    quality = stack.url("quality")
    for path, params, field in (
        ("/measures/results", {"period": "2030-Q5"}, "query.period"),
        ("/measures/results.csv", {"period": "2030-13"}, "query.period"),
        ("/measures/runs", {"period": "Q1-2030"}, "query.period"),
        ("/fhir/MeasureReport", {"period": "2030-Q0"}, "query.period"),
        ("/fhir/MeasureReport", {"period": "2030-Q1", "subject": "not a member id"}, "query.subject"),
    ):
        response = await http.get(f"{quality}{path}", params=params)
        assert response.status_code == 422, (path, response.text)
        assert response.json()["detail"][0]["field"] == field
    run = await http.post(f"{quality}/measures/run", json={"period": "2030-Q7"})
    assert (run.status_code, run.json()["detail"][0]["field"]) == (422, "body.period")
    empty = await http.get(f"{quality}/measures/results.csv", params={"period": "1999-Q1"})
    assert empty.text.splitlines() == [empty.text.splitlines()[0]] and empty.text.startswith("period,")
