"""Issue 6's target: every quality measure for 100,000 members over 12 months within 30 s.

The quality schema's fact tables are seeded set-based (INSERT ... SELECT generate_series) in the
run's Postgres, after the service migrated it: 100,000 enrolments across 20 organizations (2%
ending by death, 1% by hospice election), one referral and one assessment per member, one visit
per member-month (disciplines and modes rotating), a survey per member every third month, an ED
visit or an emergency admission for one member in twenty per month. Then the 12 months are
scored through the service's real path, `POST /measures/run` for each month (score every
measure of the catalogue set-based in Postgres, one statement per family of measures, store the
run, stage PerformanceScored in the outbox).
Baseline, same run and rows: one raw SQL aggregate (member-months, visits by discipline and
mode, top-box answers, admissions and ED visits, per organization and month).
"""

import asyncio
import time
import uuid
from pathlib import Path
from typing import Any

import asyncpg
import httpx

from hearth_devstack.processes import free_ports
from hearth_devstack.tokens import bearer_headers
from hearth_platform.db import asyncpg_dsn

from .http_load import serve, wait_ok
from .readme_table import met

YEAR = 2025
MONTHS = [f"{YEAR}-{m:02d}" for m in range(1, 13)]
ORGS = 20

SEED = [
    # Enrolled between 1 December of the year before and the end of January.
    """
    INSERT INTO quality.enrolments (enrollment_id, member_id, provider_org_id, effective_date, tier)
    SELECT 'qb-e-' || g, 'qb-m-' || g, 'qb-org-' || (g % {orgs}),
           DATE '{year}-01-01' - 31 + (g % 62), CASE WHEN g % 4 = 0 THEN 'high' ELSE 'moderate' END
    FROM generate_series(1, {members}) AS g
    """,
    """
    INSERT INTO quality.disenrolments (enrollment_id, member_id, provider_org_id, effective_date, reason)
    SELECT 'qb-e-' || g, 'qb-m-' || g, 'qb-org-' || (g % {orgs}), DATE '{year}-03-01' + (g % 270),
           CASE WHEN g % 50 = 0 THEN 'death' ELSE 'hospice_election' END
    FROM generate_series(1, {members}) AS g WHERE g % 50 = 0 OR g % 100 = 1
    """,
    """
    INSERT INTO quality.referrals (referral_id, member_id, referral_date, provider_org_id)
    SELECT 'qb-r-' || g, 'qb-m-' || g, DATE '{year}-01-01' - 45 + (g % 62), 'qb-org-' || (g % {orgs})
    FROM generate_series(1, {members}) AS g
    """,
    """
    INSERT INTO quality.assessments (assessment_id, member_id, provider_org_id, assessed_on,
        surrogate_identified, goals_of_care_documented, advance_directive_on_file, referral_id,
        present_fields)
    SELECT 'qb-a-' || g, 'qb-m-' || g, 'qb-org-' || (g % {orgs}), DATE '{year}-01-01' - 40 + (g % 62),
           g % 3 <> 0, g % 2 = 0, g % 5 = 0, 'qb-r-' || g,
           CASE WHEN g % 4 = 0 THEN ARRAY['pps'] ELSE ARRAY['primary_condition', 'pps', 'esas_total'] END
    FROM generate_series(1, {members}) AS g
    """,
    """
    INSERT INTO quality.visits (visit_id, member_id, provider_org_id, visit_date, discipline, mode,
        minutes, received_at)
    SELECT 'qb-v-' || g || '-' || m, 'qb-m-' || g, 'qb-org-' || (g % {orgs}),
           make_date({year}, m, 1 + (g % 28)),
           (ARRAY['rn', 'social_worker', 'chaplain', 'physician', 'np', 'care_navigator'])[1 + (g + m) % 6],
           (ARRAY['in_person', 'video', 'phone'])[1 + (g * m) % 3], 45,
           make_date({year}, m, 1 + (g % 28)) + ((g % 10) * INTERVAL '1 day')
    FROM generate_series(1, {members}) AS g, generate_series(1, 12) AS m
    """,
    """
    INSERT INTO quality.surveys (survey_id, member_id, provider_org_id, survey_date, mode, proxy,
        heard_and_understood, best_interests_first, seen_as_person, understood_what_matters, received_at)
    SELECT 'qb-s-' || g || '-' || m, 'qb-m-' || g, 'qb-org-' || (g % {orgs}), make_date({year}, m, 15),
           'mail', g % 7 = 0, 3 + (g % 3), 3 + ((g + 1) % 3), 5, 4 + (g % 2), now()
    FROM generate_series(1, {members}) AS g, generate_series(1, 12) AS m WHERE (g + m) % 3 = 0
    """,
    """
    INSERT INTO quality.claim_lines (claim_id, line_number, member_id, claim_type, service_from,
        service_to, admission_type, ed_visit)
    SELECT 'qb-c-' || g || '-' || m, 1, 'qb-m-' || g,
           CASE WHEN g % 2 = 0 THEN 'inpatient' ELSE 'outpatient' END,
           make_date({year}, m, 1 + (g % 25)), make_date({year}, m, 1 + (g % 25)) + (g % 4),
           CASE WHEN g % 2 = 0 THEN 'emergency' END, g % 2 = 1
    FROM generate_series(1, {members}) AS g, generate_series(1, 12) AS m WHERE (g + m) % 20 = 0
    """,
    "ANALYZE quality.enrolments, quality.disenrolments, quality.referrals, quality.assessments, "
    "quality.visits, quality.surveys, quality.claim_lines",
]

BASELINE = """
WITH months AS (
    SELECT make_date({year}, m, 1) AS first_day, (make_date({year}, m, 1) + INTERVAL '1 month - 1 day')::date AS last_day
    FROM generate_series(1, 12) AS m),
mm AS (
    SELECT e.provider_org_id, mo.first_day, count(*) AS member_months
    FROM quality.enrolments e LEFT JOIN quality.disenrolments d USING (enrollment_id)
    JOIN months mo ON e.effective_date <= mo.last_day AND (d.effective_date IS NULL OR d.effective_date > mo.first_day)
    GROUP BY 1, 2),
v AS (
    SELECT provider_org_id, date_trunc('month', visit_date)::date AS first_day, discipline,
           count(*) AS visits, count(*) FILTER (WHERE mode <> 'in_person') AS telehealth
    FROM quality.visits GROUP BY 1, 2, 3),
s AS (
    SELECT provider_org_id, date_trunc('month', survey_date)::date AS first_day, count(*) AS surveys,
           count(*) FILTER (WHERE heard_and_understood = 5) AS top_box
    FROM quality.surveys WHERE NOT proxy GROUP BY 1, 2),
c AS (
    SELECT e.provider_org_id, date_trunc('month', c.service_from)::date AS first_day,
           count(*) FILTER (WHERE c.admission_type IN ('emergency', 'urgent')) AS admissions,
           count(*) FILTER (WHERE c.ed_visit) AS ed_visits
    FROM quality.claim_lines c JOIN quality.enrolments e USING (member_id) GROUP BY 1, 2)
SELECT count(*) FROM mm
LEFT JOIN v USING (provider_org_id, first_day)
LEFT JOIN s USING (provider_org_id, first_day)
LEFT JOIN c USING (provider_org_id, first_day)
"""


async def seed(database_url: str, members: int) -> tuple[float, dict[str, int]]:
    conn = await asyncpg.connect(asyncpg_dsn(database_url))
    try:
        started = time.perf_counter()
        for statement in SEED:
            await conn.execute(statement.format(year=YEAR, members=members, orgs=ORGS))
        elapsed = time.perf_counter() - started
        counts = {
            table: await conn.fetchval(f"SELECT count(*) FROM quality.{table}")
            for table in ("enrolments", "visits", "surveys", "claim_lines", "assessments", "referrals")
        }
        return elapsed, counts
    finally:
        await conn.close()


async def baseline(database_url: str) -> float:
    conn = await asyncpg.connect(asyncpg_dsn(database_url))
    try:
        started = time.perf_counter()
        await conn.fetchval(BASELINE.format(year=YEAR))
        return time.perf_counter() - started
    finally:
        await conn.close()


def quality_measures(env: dict[str, str], log_dir: Path, members: int = 100_000) -> dict[str, Any]:
    (port,) = free_ports(1)
    api = serve("hearth_quality.app:app", port, env, log_dir / f"quality-{uuid.uuid4().hex[:6]}.log")
    url = f"http://127.0.0.1:{port}"
    try:
        wait_ok(f"{url}/health")  # migrated: the fact tables exist
        seed_seconds, counts = asyncio.run(seed(env["HEARTH_DATABASE_URL"], members))
        per_month: dict[str, float] = {}
        results = 0
        with httpx.Client(timeout=None, headers=bearer_headers(client="bench")) as client:
            started = time.perf_counter()
            for month in MONTHS:
                began = time.perf_counter()
                response = client.post(f"{url}/measures/run", json={"period": month})
                response.raise_for_status()
                results += len(response.json()["results"])
                per_month[month] = round(time.perf_counter() - began, 2)
            elapsed = time.perf_counter() - started
            measures = len(client.get(f"{url}/measures").json())
        raw_seconds = asyncio.run(baseline(env["HEARTH_DATABASE_URL"]))
    finally:
        api.terminate()
        api.wait(10)
    return {
        "members": members,
        "months": len(MONTHS),
        "organizations": ORGS,
        "measures": measures,
        "facts": counts,
        "seed_seconds": round(seed_seconds, 2),
        "results": results,
        "seconds": round(elapsed, 2),
        "seconds_per_month": per_month,
        "raw_sql_aggregate_seconds": round(raw_seconds, 3),
        "target_seconds": 30,
    }


def rows(ctx: Any) -> list[tuple[str, ...]]:
    """The benchmark as `python -m bench --only quality_measures` runs it (ctx: BenchContext)."""
    from bench.__main__ import write

    result = quality_measures(ctx.env, ctx.logs, members=int(100_000 * ctx.scale))
    write(ctx, "quality_measures", result)
    return [
        (
            f"quality: {result['measures']} measures, {result['members']:,} members x 12 months "
            "(POST /measures/run per month)",
            f"{result['seconds']} s ({result['results']:,} results)",
            f"raw SQL aggregate over the same rows {result['raw_sql_aggregate_seconds']} s",
            "<= 30 s for 100,000 members (issue 6)",
            met(result["seconds"] <= 30 and result["members"] >= 100_000),
        )
    ]
