"""SQL families of measures that count events per membership (a member with an organization in
the period), the set-based form of `RatioMeasure` (ratio.py).

A fact counts for an organization when it is dated in the period on a day one of the member's
enrolments there covers (Membership.counts); a member-month is a calendar month of the period
with at least one day of enrolment there (ratio.member_months).

- `visits`: reported visits matching `where` (any of `discipline`, `mode`: lists of values;
  `reported_within_days`: received within N days of the visit) per `per` ("member_month" or
  "visit").
- `top_box_surveys`: surveys whose answer to `item` is `top_box`, per survey; proxy answers
  count only with `count_proxy_answers`.
- `claim_events`: utilization events per member-month; `event` is "admission" (one claim with a
  line of `claim_types` and `admission_types`, dated by its earliest such line) or "ed_visit"
  (one claim and service date with an ED line).
- `days_at_home`: enrolled days not away (a day covered by a line of `away_claim_types`, or with
  an ED visit when `ed_days_away`), over enrolled days plus the days after a death in the period.
"""

from collections.abc import Mapping, Sequence
from typing import Any

from .facts import FHU_ITEMS
from .set_based import ACTIVE, END, START, Statement, covering, values

MONTHS = f"""
months AS (
    SELECT d::date AS first_day, (d + INTERVAL '1 month' - INTERVAL '1 day')::date AS last_day
    FROM generate_series({START}, {END}, INTERVAL '1 month') AS d),
member_months AS (
    SELECT provider_org_id, count(*) AS member_months
    FROM (
        SELECT DISTINCT c.provider_org_id, c.member_id, mo.first_day
        FROM active c
        JOIN months mo ON c.effective_date <= mo.last_day
            AND (c.ended_on IS NULL OR (c.ended_on > mo.first_day AND c.ended_on > c.effective_date))
    ) AS months_enrolled
    GROUP BY provider_org_id)"""

VISIT_FIELDS = ("discipline", "mode")


def _visit_condition(i: int, where: Mapping[str, Any], binds: dict[str, Any]) -> str:
    unknown = set(where) - {*VISIT_FIELDS, "reported_within_days"}
    if unknown:
        raise ValueError(f"a visit measure can only filter on {VISIT_FIELDS} and reported_within_days")
    parts = ["true"]
    for name in VISIT_FIELDS:
        if name in where:
            binds[f"{name}_{i}"] = list(where[name])
            parts.append(f"v.{name} = ANY(CAST(:{name}_{i} AS text[]))")
    if "reported_within_days" in where:
        binds[f"within_{i}"] = int(where["reported_within_days"])
        parts.append(
            f"(v.received_at AT TIME ZONE 'UTC')::date - v.visit_date <= CAST(:within_{i} AS integer)"
        )
    return " AND ".join(parts)


def visits(measures: Sequence[tuple[str, Mapping[str, Any]]]) -> Statement:
    binds: dict[str, Any] = {}
    tallies, rows = [], []
    for i, (measure_id, params) in enumerate(measures):
        binds[f"measure_{i}"] = measure_id
        tallies.append(
            f"count(*) FILTER (WHERE {_visit_condition(i, params.get('where', {}), binds)}) AS n_{i}"
        )
        per = {"member_month": "mm.member_months", "visit": "coalesce(t.visits, 0)"}[params["per"]]
        rows.append((f"CAST(:measure_{i} AS text)", f"coalesce(t.n_{i}, 0)", per))
    sql = f"""
WITH {ACTIVE},
{MONTHS},
tallies AS (
    SELECT v.provider_org_id, count(*) AS visits, {", ".join(tallies)}
    FROM quality.visits v
    WHERE v.visit_date BETWEEN {START} AND {END}
      AND EXISTS (SELECT 1 FROM active c WHERE c.member_id = v.member_id
                  AND c.provider_org_id = v.provider_org_id AND {covering("v.visit_date")})
    GROUP BY v.provider_org_id)
SELECT m.measure_id, mm.provider_org_id, m.numerator, m.denominator, 0 AS exclusions
FROM member_months mm
LEFT JOIN tallies t ON t.provider_org_id = mm.provider_org_id
CROSS JOIN LATERAL {values(rows, ("measure_id", "numerator", "denominator"), "m")}"""
    return Statement(sql, binds)


def top_box_surveys(measures: Sequence[tuple[str, Mapping[str, Any]]]) -> Statement:
    binds: dict[str, Any] = {}
    tallies, rows = [], []
    for i, (measure_id, params) in enumerate(measures):
        item = params["item"]
        if item not in FHU_ITEMS:
            raise ValueError(f"a survey measure's item must be one of {FHU_ITEMS}")
        binds.update({f"measure_{i}": measure_id, f"top_{i}": int(params["top_box"])})
        binds[f"proxy_{i}"] = bool(params["count_proxy_answers"])
        eligible = f"(CAST(:proxy_{i} AS boolean) OR NOT s.proxy)"
        tallies.append(f"count(*) FILTER (WHERE {eligible}) AS d_{i}")
        tallies.append(
            f"count(*) FILTER (WHERE {eligible} AND s.{item} = CAST(:top_{i} AS integer)) AS n_{i}"
        )
        rows.append((f"CAST(:measure_{i} AS text)", f"t.n_{i}", f"t.d_{i}"))
    sql = f"""
WITH {ACTIVE},
tallies AS (
    SELECT s.provider_org_id, {", ".join(tallies)}
    FROM quality.surveys s
    WHERE s.survey_date BETWEEN {START} AND {END}
      AND EXISTS (SELECT 1 FROM active c WHERE c.member_id = s.member_id
                  AND c.provider_org_id = s.provider_org_id AND {covering("s.survey_date")})
    GROUP BY s.provider_org_id)
SELECT m.measure_id, t.provider_org_id, m.numerator, m.denominator, 0 AS exclusions
FROM tallies t
CROSS JOIN LATERAL {values(rows, ("measure_id", "numerator", "denominator"), "m")}"""
    return Statement(sql, binds)


def _claim_events(i: int, params: Mapping[str, Any], binds: dict[str, Any]) -> str:
    if params["event"] == "admission":
        binds[f"claim_types_{i}"] = list(params["claim_types"])
        binds[f"admission_types_{i}"] = list(params["admission_types"])
        return f"""
    SELECT CAST(:measure_{i} AS text) AS measure_id, l.member_id, l.claim_id,
           min(l.service_from) AS day
    FROM quality.claim_lines l
    WHERE l.claim_type = ANY(CAST(:claim_types_{i} AS text[]))
      AND l.admission_type = ANY(CAST(:admission_types_{i} AS text[]))
      AND l.service_from <= {END}
    GROUP BY l.member_id, l.claim_id
    HAVING min(l.service_from) >= {START}"""
    if params["event"] == "ed_visit":
        return f"""
    SELECT DISTINCT CAST(:measure_{i} AS text), l.member_id, l.claim_id, l.service_from
    FROM quality.claim_lines l
    WHERE l.ed_visit AND l.service_from BETWEEN {START} AND {END}"""
    raise ValueError("a claim event is an admission or an ed_visit")


def claim_events(measures: Sequence[tuple[str, Mapping[str, Any]]]) -> Statement:
    binds: dict[str, Any] = {}
    selects, rows = [], []
    for i, (measure_id, params) in enumerate(measures):
        binds[f"measure_{i}"] = measure_id
        selects.append(_claim_events(i, params, binds))
        rows.append((f"CAST(:measure_{i} AS text)",))
    sql = f"""
WITH {ACTIVE},
{MONTHS},
events AS ({" UNION ALL ".join(selects)}),
counted AS (
    SELECT measure_id, provider_org_id, count(*) AS events
    FROM (
        SELECT DISTINCT ev.measure_id, c.provider_org_id, ev.member_id, ev.claim_id, ev.day
        FROM events ev
        JOIN active c ON c.member_id = ev.member_id AND {covering("ev.day")}
    ) AS per_membership
    GROUP BY measure_id, provider_org_id)
SELECT m.measure_id, mm.provider_org_id, coalesce(n.events, 0) AS numerator,
       mm.member_months AS denominator, 0 AS exclusions
FROM member_months mm
CROSS JOIN {values(rows, ("measure_id",), "m")}
LEFT JOIN counted n ON n.measure_id = m.measure_id AND n.provider_org_id = mm.provider_org_id"""
    return Statement(sql, binds)


def _days(multirange: str) -> str:
    return f"(SELECT coalesce(sum(upper(r) - lower(r)), 0) FROM unnest({multirange}) AS r)"


def days_at_home(measures: Sequence[tuple[str, Mapping[str, Any]]]) -> Statement:
    binds: dict[str, Any] = {}
    ctes, selects = [], []
    first, last = f"greatest(c.effective_date, {START})", f"least(coalesce(c.ended_on, {END} + 1), {END} + 1)"
    for i, (measure_id, params) in enumerate(measures):
        binds[f"measure_{i}"] = measure_id
        binds[f"away_{i}"] = list(params["away_claim_types"])
        binds[f"ed_{i}"] = bool(params["ed_days_away"])
        binds[f"deaths_{i}"] = list(params["death_reasons"])
        away = f"l.claim_type = ANY(CAST(:away_{i} AS text[]))"
        away_from = f"greatest(l.service_from, {START})"
        away_to = f"least(CASE WHEN {away} THEN l.service_to ELSE l.service_from END, {END})"
        ctes.append(f"""
spans_{i} AS (
    SELECT c.provider_org_id, c.member_id,
           coalesce(range_agg(daterange({first}, {last})) FILTER (WHERE {first} < {last}),
                    '{{}}'::datemultirange) AS enrolled,
           min(c.ended_on) FILTER (WHERE c.end_reason = ANY(CAST(:deaths_{i} AS text[]))
                                   AND c.ended_on BETWEEN {START} AND {END}) AS died
    FROM active c
    GROUP BY c.provider_org_id, c.member_id),
away_{i} AS (
    SELECT l.member_id, range_agg(daterange({away_from}, {away_to} + 1)) AS away
    FROM quality.claim_lines l
    WHERE ({away} OR (CAST(:ed_{i} AS boolean) AND l.ed_visit))
      AND l.service_from <= {END} AND {away_from} <= {away_to}
    GROUP BY l.member_id)""")
        # Most members have no day away: the intersection is only computed for those who do.
        away_days = f"CASE WHEN a.away IS NULL THEN 0 ELSE {_days('s.enrolled * a.away')} END"
        selects.append(f"""
SELECT CAST(:measure_{i} AS text), s.provider_org_id,
       sum(enrolled.days - {away_days}),
       sum(enrolled.days + coalesce({END} - s.died + 1, 0)),
       0
FROM spans_{i} s
LEFT JOIN away_{i} a ON a.member_id = s.member_id
CROSS JOIN LATERAL (SELECT {_days("s.enrolled")} AS days) AS enrolled
GROUP BY s.provider_org_id""")
    sql = f"WITH {ACTIVE},{','.join(ctes)}\n{' UNION ALL '.join(selects)}"
    return Statement(sql, binds)
