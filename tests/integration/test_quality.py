"""The quality service over the real broker and Postgres: facts in, scores out, runs versioned."""

import asyncio
import uuid
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

import httpx

from hearth_schemas import AssessmentCompleted, MemberDisenrolled, MemberEnrolled, MonthClosed

from .stack import Stack

# A period of its own, so other tests' closes do not interleave with these runs.
PERIOD = "2030-03"
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


def assessed(member: str, org: str, on: date, surrogate: bool) -> AssessmentCompleted:
    return AssessmentCompleted(
        assessment_id=str(uuid.uuid4()),
        referral_id=str(uuid.uuid4()),
        member_id=member,
        provider_org_id=org,
        assessed_on=on,
        mode="in_person",
        decision="enrol",
        surrogate_identified=surrogate,
        surrogate_relationship="spouse" if surrogate else None,
    )


async def run_until(
    http: httpx.AsyncClient, stack: Stack, org: str, expected: tuple[int, int]
) -> dict[str, Any]:
    """Recompute on demand until the consumed facts show up in the organization's result."""
    for _ in range(100):
        response = await http.post(f"{stack.url('quality')}/measures/run", json={"period": PERIOD})
        assert response.status_code == 200, response.text
        mine = [
            r
            for r in response.json()["results"]
            if r["provider_org_id"] == org and r["measure_id"] == "surrogate-identified"
        ]
        if mine and (mine[0]["numerator"], mine[0]["denominator"]) == expected:
            return response.json()
        await asyncio.sleep(0.2)
    raise AssertionError(f"{org} never reached {expected}")


async def test_month_closed_scores_each_organization_from_facts_in_any_order(stack: Stack, http):
    org = f"org-{uuid.uuid4().hex[:8]}"
    found, missed, left, fresh = (f"M-{uuid.uuid4().hex[:10]}" for _ in range(4))
    # The disenrolment arrives before its enrolment: it is stored and joined later.
    await stack.publish(
        MemberDisenrolled(
            enrollment_id=f"e-{left}",
            member_id=left,
            provider_org_id=org,
            reason="death",
            effective_date=date(2030, 2, 10),
        )
    )
    for member, on in (
        (found, date(2030, 1, 15)),
        (missed, date(2030, 1, 15)),
        (left, date(2030, 2, 1)),
        (fresh, date(2030, 3, 20)),
    ):
        await stack.publish(enrolled(member, org, on))
    await stack.publish(assessed(found, org, date(2030, 1, 10), surrogate=True))
    await stack.publish(assessed(missed, org, date(2030, 1, 10), surrogate=False))
    await run_until(http, stack, org, (1, 2))

    close = await stack.publish(
        MonthClosed(
            month=PERIOD,
            closed_at=datetime.now(UTC),
            invoice_ids=[],
            total_amount=Decimal("0.00"),
            member_months=0,
        )
    )
    scored = await stack.wait_for_event(
        "quality.events",
        lambda e: (
            e.type == SCORED
            and e.causation_id == close.id
            and e.subject == org
            and e.data["measure_id"] == "surrogate-identified"
        ),
    )
    assert scored.data["measure_version"] == "1"
    assert (scored.data["numerator"], scored.data["denominator"], scored.data["reported"]) == (1, 2, True)
    assert Decimal(scored.data["rate"]) == Decimal("0.500000")
    current = (
        await http.get(
            f"{stack.url('quality')}/measures/results", params={"period": PERIOD, "provider_org_id": org}
        )
    ).json()["results"]
    surrogate = [r for r in current if r["measure_id"] == "surrogate-identified"]
    assert [r["score_id"] for r in surrogate] == [scored.data["score_id"]]


async def test_late_assessment_and_rerun_make_a_new_current_run_and_keep_the_old(stack: Stack, http):
    org = f"org-{uuid.uuid4().hex[:8]}"
    member = f"M-{uuid.uuid4().hex[:10]}"
    await stack.publish(enrolled(member, org, date(2030, 1, 2)))
    first = await run_until(http, stack, org, (0, 1))

    await stack.publish(assessed(member, org, date(2030, 1, 20), surrogate=True))
    second = await run_until(http, stack, org, (1, 1))
    assert second["run"] > first["run"]
    [result] = [
        r
        for r in second["results"]
        if r["provider_org_id"] == org and r["measure_id"] == "surrogate-identified"
    ]
    assert (Decimal(result["rate"]), result["reported"]) == (Decimal("1.000000"), True)
    current = (
        await http.get(
            f"{stack.url('quality')}/measures/results", params={"period": PERIOD, "provider_org_id": org}
        )
    ).json()["results"]
    surrogate = [r for r in current if r["measure_id"] == "surrogate-identified"]
    assert [(r["score_id"], r["run"]) for r in surrogate] == [(result["score_id"], second["run"])]
    republished = await stack.wait_for_event(
        "quality.events", lambda e: e.type == SCORED and e.data["score_id"] == result["score_id"]
    )
    assert republished.subject == org


async def test_organization_with_only_new_members_is_scored_but_not_reported(stack: Stack, http):
    org = f"org-{uuid.uuid4().hex[:8]}"
    await stack.publish(enrolled(f"M-{uuid.uuid4().hex[:10]}", org, date(2030, 3, 25)))
    outcome = await run_until(http, stack, org, (0, 0))
    [result] = [
        r
        for r in outcome["results"]
        if r["provider_org_id"] == org and r["measure_id"] == "surrogate-identified"
    ]
    assert (result["rate"], result["reported"]) == (None, False)


async def test_a_malformed_period_is_refused_naming_the_field(stack: Stack, http):
    run = await http.post(f"{stack.url('quality')}/measures/run", json={"period": "2030-13"})
    assert run.status_code == 422
    assert run.json()["detail"][0]["field"] == "body.period"
    results = await http.get(f"{stack.url('quality')}/measures/results", params={"period": "March"})
    assert results.status_code == 422
    assert results.json()["detail"][0]["field"] == "query.period"
