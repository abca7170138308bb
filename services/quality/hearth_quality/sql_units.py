"""SQL families of measures whose unit is not an enrolment in force (a decedent, a referral), the
set-based form of `UnitMeasure` (unit_measure.py).

They look at the facts the in-memory engine loads for a period (FactRepository.population):
enrolments in force from `since` to the period's end (`loaded`), referrals dated in that span,
and every line of the claims of those members that touch the span. A death is known from a
disenrolment for one of `death_reasons` (its effective date) or a claim line with one of
`death_discharge_statuses` (its last service day); the earliest counts (DeathRule).

- `hospice_transition`: members who died in the period, attributed to the enrolment they had last
  on or before the death if in force within `lookback_days`; met when the hospice stay (from
  the earliest hospice-election disenrolment or hospice claim line within the lookback) lasted
  `minimum_length_of_stay_days`.
- `assessment_after_referral`: referrals whose window (`window_days` after the referral) ends in
  the period, attributed to the organization that first assessed them, else the one they were
  sent to; met when assessed within the window; excluded when the member died within it
  without an assessment.
"""

from collections.abc import Mapping, Sequence
from typing import Any

from .set_based import END, LOADED, PERIOD_ENROLMENTS, SINCE, START, Statement

SPAN = f"""
{LOADED},
referred AS NOT MATERIALIZED (
    SELECT r.referral_id, r.member_id, r.referral_date, r.provider_org_id
    FROM quality.referrals r
    WHERE r.referral_date BETWEEN {SINCE} AND {END})"""


def in_span(member: str) -> str:
    """The member has an enrolment in force or a referral in the span (whose facts are loaded),
    looked up by index for each row rather than joined to a set the planner cannot size."""
    return (
        f"(EXISTS (SELECT 1 FROM {PERIOD_ENROLMENTS} s WHERE s.member_id = {member})"
        f" OR EXISTS (SELECT 1 FROM quality.referrals s WHERE s.member_id = {member}"
        f" AND s.referral_date BETWEEN {SINCE} AND {END}))"
    )


def _deaths(i: int, params: Mapping[str, Any], binds: dict[str, Any], members: str) -> str:
    """The earliest known date of death up to the period's end of each member of `members` (a
    CTE name). A later death cannot be the earliest in the period, so it is left out; a claim
    line's death is known when its claim touches the span (its own line does when it ends in
    it)."""
    binds[f"death_reasons_{i}"] = list(params["death_reasons"])
    binds[f"death_statuses_{i}"] = list(params["death_discharge_statuses"])
    return f"""
    SELECT member_id, min(day) AS died FROM (
        SELECT e.member_id, e.ended_on AS day FROM loaded e
        WHERE e.end_reason = ANY(CAST(:death_reasons_{i} AS text[])) AND e.ended_on <= {END}
        UNION ALL
        SELECT l.member_id, l.service_to FROM quality.claim_lines l
        WHERE l.discharge_status = ANY(CAST(:death_statuses_{i} AS text[]))
          AND l.service_to <= {END}
          AND (l.service_to >= {SINCE} OR EXISTS (
              SELECT 1 FROM quality.claim_lines k
              WHERE k.claim_id = l.claim_id AND k.service_from <= {END} AND k.service_to >= {SINCE}
                AND {in_span("k.member_id")}))
    ) AS known
    WHERE member_id IN (SELECT member_id FROM {members})
    GROUP BY member_id"""


def hospice_transition(measures: Sequence[tuple[str, Mapping[str, Any]]]) -> Statement:
    binds: dict[str, Any] = {}
    ctes, selects = [], []
    for i, (measure_id, params) in enumerate(measures):
        binds[f"measure_{i}"] = measure_id
        binds[f"lookback_{i}"] = int(params["lookback_days"])
        binds[f"stay_{i}"] = int(params["minimum_length_of_stay_days"])
        binds[f"hospice_reasons_{i}"] = list(params["hospice_reasons"])
        binds[f"hospice_types_{i}"] = list(params["hospice_claim_types"])
        lookback = f"CAST(:lookback_{i} AS integer)"
        ctes.append(f"""
deaths_{i} AS ({_deaths(i, params, binds, "loaded")}),
decedents_{i} AS (
    SELECT DISTINCT ON (d.member_id) d.member_id, d.died, e.provider_org_id
    FROM deaths_{i} d
    JOIN loaded e ON e.member_id = d.member_id
    WHERE d.died BETWEEN {START} AND {END}
      AND e.effective_date <= d.died
      AND (e.ended_on IS NULL OR (e.ended_on > e.effective_date AND e.ended_on >= d.died - {lookback}))
    ORDER BY d.member_id, e.effective_date DESC, e.enrollment_id COLLATE "C" DESC),
hospice_{i} AS (
    SELECT member_id, min(day) AS since_day FROM (
        SELECT d.member_id, e.ended_on AS day
        FROM decedents_{i} d
        JOIN loaded e ON e.member_id = d.member_id
        WHERE e.end_reason = ANY(CAST(:hospice_reasons_{i} AS text[]))
          AND e.ended_on BETWEEN d.died - {lookback} AND d.died
        UNION ALL
        SELECT d.member_id, l.service_from
        FROM decedents_{i} d
        JOIN quality.claim_lines l ON l.member_id = d.member_id
        WHERE l.claim_type = ANY(CAST(:hospice_types_{i} AS text[]))
          AND l.service_from BETWEEN d.died - {lookback} AND d.died
    ) AS starts
    GROUP BY member_id)""")
        selects.append(f"""
SELECT CAST(:measure_{i} AS text), d.provider_org_id,
       count(*) FILTER (WHERE coalesce(d.died - h.since_day, 0) >= CAST(:stay_{i} AS integer)), count(*), 0
FROM decedents_{i} d
LEFT JOIN hospice_{i} h ON h.member_id = d.member_id
GROUP BY d.provider_org_id""")
    sql = f"WITH {SPAN},{','.join(ctes)}\n{' UNION ALL '.join(selects)}"
    return Statement(sql, binds)


def assessment_after_referral(measures: Sequence[tuple[str, Mapping[str, Any]]]) -> Statement:
    binds: dict[str, Any] = {}
    ctes, selects = [], []
    for i, (measure_id, params) in enumerate(measures):
        binds[f"measure_{i}"] = measure_id
        binds[f"window_{i}"] = int(params["window_days"])
        ctes.append(f"""
due_{i} AS (
    SELECT r.*, r.referral_date + CAST(:window_{i} AS integer) AS window_end FROM referred r
    WHERE r.referral_date + CAST(:window_{i} AS integer) BETWEEN {START} AND {END}),
deaths_{i} AS ({_deaths(i, params, binds, f"due_{i}")}),
assessed_{i} AS (
    SELECT a.referral_id,
           (array_agg(a.provider_org_id ORDER BY a.assessed_on, a.assessment_id COLLATE "C"))[1] AS first_org,
           bool_or(a.assessed_on <= r.window_end) AS met
    FROM due_{i} r
    JOIN quality.assessments a ON a.referral_id = r.referral_id
    WHERE {in_span("a.member_id")}
    GROUP BY a.referral_id),
units_{i} AS (
    SELECT coalesce(assessed.first_org, r.provider_org_id) AS provider_org_id,
           coalesce(assessed.met, false) AS met, dd.died, r.window_end
    FROM due_{i} r
    LEFT JOIN assessed_{i} assessed ON assessed.referral_id = r.referral_id
    LEFT JOIN deaths_{i} dd ON dd.member_id = r.member_id)""")
        selects.append(f"""
SELECT CAST(:measure_{i} AS text), provider_org_id,
       count(*) FILTER (WHERE met),
       count(*) FILTER (WHERE met OR died IS NULL OR died > window_end),
       count(*) FILTER (WHERE NOT met AND died <= window_end)
FROM units_{i}
WHERE provider_org_id IS NOT NULL
GROUP BY provider_org_id""")
    sql = f"WITH {SPAN},{','.join(ctes)}\n{' UNION ALL '.join(selects)}"
    return Statement(sql, binds)
