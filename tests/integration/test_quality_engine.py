"""The set-based measure engine (SQL in Postgres) against the in-memory engine (the reference the
hand-computed unit tests hold): random populations full of edge cases (re-enrolments, voided
enrolments, deaths known from disenrolments and from claims, hospice, multi-line claims,
proxy surveys, late visit reports, unattributed referrals) must give exactly the same
numerators, denominators, exclusions, rates and suppression for every measure, organization,
month and quarter."""

import random
import uuid
from datetime import UTC, date, datetime, timedelta
from typing import Any

from sqlalchemy import Table
from sqlalchemy.ext.asyncio import AsyncConnection, create_async_engine

from hearth_quality.domain import MeasureScore, Period, score_all
from hearth_quality.facts import FHU_ITEMS
from hearth_quality.measures import CATALOGUE, LOOKBACK_DAYS
from hearth_quality.repository import FactRepository
from hearth_quality.scores_repository import SetBasedScores
from hearth_quality.tables import (
    assessments,
    claim_lines,
    disenrolments,
    enrolments,
    referrals,
    surveys,
    visits,
)

from .stack import Stack

# A year no other test writes quality facts in, so the population is this test's own.
YEAR = 2031
DISCIPLINES = ["rn", "social_worker", "chaplain", "physician", "np", "care_navigator"]
CLAIM_TYPES = ["inpatient", "outpatient", "snf", "hospice", "professional"]


def population(rng: random.Random, prefix: str, members: int) -> dict[Table, list[dict[str, Any]]]:
    orgs = [f"{prefix}-org-{i}" for i in range(4)]

    def day() -> date:
        return date(YEAR, 1, 1) - timedelta(days=60) + timedelta(days=rng.randrange(430))

    rows: dict[Table, list[dict[str, Any]]] = {
        t: [] for t in (enrolments, disenrolments, referrals, assessments, visits, surveys, claim_lines)
    }
    for m in range(members):
        member = f"{prefix}-m-{m}"
        mine = []
        for k in range(rng.choice([0, 1, 1, 1, 2, 3])):
            eid, org, start = f"{prefix}-e-{m}-{k}", rng.choice(orgs), day()
            mine.append(org)
            rows[enrolments].append(
                {"enrollment_id": eid, "member_id": member, "provider_org_id": org, "effective_date": start}
                | {"tier": "moderate"}
            )
            if rng.random() < 0.5:
                rows[disenrolments].append(
                    {"enrollment_id": eid, "member_id": member, "provider_org_id": org}
                    | {"effective_date": start + timedelta(days=rng.randrange(-5, 200))}
                    | {"reason": rng.choice(["death", "hospice_election", "goals_met", "coverage_lost"])}
                )
        sent = [
            {"referral_id": f"{prefix}-r-{m}-{k}", "member_id": member, "referral_date": day()}
            | {"provider_org_id": rng.choice([*orgs, None])}
            for k in range(rng.choice([0, 1, 1, 2]))
        ]
        rows[referrals] += sent

        def org(mine: list[str] = mine) -> str:
            return rng.choice(mine) if mine and rng.random() < 0.8 else rng.choice(orgs)

        for k in range(rng.choice([0, 1, 2, 3])):
            rows[assessments].append(
                {"assessment_id": f"{prefix}-a-{m}-{k}", "member_id": member, "provider_org_id": org()}
                | {"assessed_on": day(), "surrogate_identified": rng.random() < 0.5}
                | {
                    "goals_of_care_documented": rng.random() < 0.3,
                    "advance_directive_on_file": rng.random() < 0.3,
                }
                | {"referral_id": rng.choice([*(r["referral_id"] for r in sent), None])}
                | {"present_fields": rng.choice([[], ["pps"], ["primary_condition", "pps", "esas_total"]])}
            )
        for k in range(rng.choice([0, 2, 5, 10])):
            on = day()
            received = datetime(on.year, on.month, on.day, rng.choice([0, 12, 23]), 30, tzinfo=UTC)
            rows[visits].append(
                {"visit_id": f"{prefix}-v-{m}-{k}", "member_id": member, "provider_org_id": org()}
                | {"visit_date": on, "discipline": rng.choice(DISCIPLINES), "minutes": 30}
                | {"mode": rng.choice(["in_person", "video", "phone"])}
                | {"received_at": received + timedelta(days=rng.randrange(12))}
            )
        for k in range(rng.choice([0, 1, 3])):
            rows[surveys].append(
                {"survey_id": f"{prefix}-s-{m}-{k}", "member_id": member, "provider_org_id": org()}
                | {"survey_date": day(), "mode": "mail", "proxy": rng.random() < 0.2}
                | {item: rng.randint(1, 5) for item in FHU_ITEMS}
                | {"received_at": datetime.now(UTC)}
            )
        for k in range(rng.choice([0, 1, 2, 4])):
            claim_type = rng.choice(CLAIM_TYPES)
            for line in range(1, rng.choice([1, 1, 2, 3]) + 1):
                start = day()
                rows[claim_lines].append(
                    {"claim_id": f"{prefix}-c-{m}-{k}", "line_number": line, "member_id": member}
                    | {"claim_type": claim_type, "service_from": start, "ed_visit": rng.random() < 0.3}
                    | {"service_to": start + timedelta(days=rng.choice([0, 0, 3, 12, 40]))}
                    | {"admission_type": rng.choice([None, "emergency", "urgent", "elective"])}
                    | {"discharge_status": rng.choice([None, None, None, "01", "20", "40", "41"])}
                )
    return rows


def periods() -> list[Period]:
    months = [Period.month(f"{YEAR}-{m:02d}") for m in range(1, 13)]
    return months + [Period.quarter(f"{YEAR}-Q{q}") for q in range(1, 5)]


def differences(expected: list[MeasureScore], got: list[MeasureScore]) -> list[str]:
    before = {(s.measure_id, s.provider_org_id): s for s in expected}
    after = {(s.measure_id, s.provider_org_id): s for s in got}
    return [
        f"{k}: {before.get(k)} != {after.get(k)}"
        for k in sorted(before | after)
        if before.get(k) != after.get(k)
    ]


async def compare(conn: AsyncConnection, prefix: str, populated: set[str]) -> dict[str, list[str]]:
    """Per period, what the two engines disagree on for this test's organizations; `populated`
    collects the measures that had a denominator somewhere."""
    found: dict[str, list[str]] = {}
    for period in periods():
        facts = await FactRepository(conn).population(period, LOOKBACK_DAYS)
        expected = [
            s for s in score_all(CATALOGUE, facts, period.label) if s.provider_org_id.startswith(prefix)
        ]
        scored = await SetBasedScores(conn).score(CATALOGUE, period, LOOKBACK_DAYS)
        got = [s for s in scored if s.provider_org_id.startswith(prefix)]
        populated |= {s.measure_id for s in got if s.denominator}
        if got != expected:
            found[period.label] = differences(expected, got) or ["same scores in another order"]
    return found


async def test_sql_engine_gives_the_in_memory_engines_numbers_on_random_populations(stack: Stack) -> None:
    engine = create_async_engine(stack.infra.database_url)
    try:
        for seed in (1, 2, 3):
            prefix = f"qe{seed}-{uuid.uuid4().hex[:6]}"
            async with engine.connect() as conn:
                for table, rows in population(random.Random(seed), prefix, members=150).items():
                    if rows:
                        await conn.execute(table.insert(), rows)
                populated: set[str] = set()
                assert await compare(conn, prefix, populated) == {}
                # Every measure had something to count: no comparison between two empty sets.
                assert populated == {m.measure_id for m in CATALOGUE}
                await conn.rollback()
    finally:
        await engine.dispose()
