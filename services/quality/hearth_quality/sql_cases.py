"""SQL families of measures that count members (one case per enrolment in force in the period),
the set-based form of `Measure` (domain.py).

`documented_within_window`: a finding documented in an assessment within N days of enrolment
(DocumentedWithinWindow in measures.py). Parameters: `window_days`, and `documented_by`, the
assessment findings any of which counts (columns of quality.assessments).

`latest_assessment_complete`: members whose latest assessment up to the period's end carries
every `required_fields` finding (assessment_fields_complete in measures_access.py).

Members are counted once per organization, as in `score`: in the denominator when any of their
enrolments there qualifies and is not excluded, in the numerator when any such one meets it,
and as an exclusion only when no enrolment there counts.
"""

from collections.abc import Mapping, Sequence
from typing import Any

from .set_based import ACTIVE, END, Statement, values

# The assessment findings a measure may name (never pasted from anywhere else).
FINDINGS = frozenset({"surrogate_identified", "goals_of_care_documented", "advance_directive_on_file"})


def _finding_condition(columns: Sequence[str]) -> str:
    unknown = set(columns) - FINDINGS
    if not columns or unknown:
        raise ValueError(f"documented_by must name findings among {sorted(FINDINGS)}")
    return "(" + " OR ".join(f"a.{c}" for c in columns) + ")"


def documented_within_window(measures: Sequence[tuple[str, Mapping[str, Any]]]) -> Statement:
    """One pass over the period's enrolments judges every measure of the family (a column set
    per measure), one grouping counts each member once per organization."""
    binds: dict[str, Any] = {}
    firsts, judged, per_member, per_org, rows = [], [], [], [], []
    for i, (measure_id, params) in enumerate(measures):
        binds[f"measure_{i}"] = measure_id
        binds[f"window_{i}"] = int(params["window_days"])
        firsts.append(
            f"min(a.assessed_on) FILTER (WHERE {_finding_condition(params['documented_by'])}) AS first_{i}"
        )
        window_end = f"(c.effective_date + CAST(:window_{i} AS integer))"
        met = f"coalesce(doc.first_{i} <= {window_end}, false)"
        judged.append(
            f"({window_end} <= {END} OR coalesce(doc.first_{i} <= least({window_end}, {END}), false)) AS known_{i}, "
            f"{met} AS met_{i}, "
            f"(c.ended_on IS NOT NULL AND c.ended_on <= {window_end} AND NOT {met}) AS left_{i}"
        )
        per_member.append(
            f"bool_or(known_{i} AND NOT left_{i}) AS counted_{i}, "
            f"bool_or(known_{i} AND NOT left_{i} AND met_{i}) AS met_{i}, "
            f"bool_or(known_{i} AND left_{i}) AS excluded_{i}"
        )
        per_org.append(
            f"count(*) FILTER (WHERE met_{i}) AS n_{i}, count(*) FILTER (WHERE counted_{i}) AS d_{i}, "
            f"count(*) FILTER (WHERE excluded_{i} AND NOT counted_{i}) AS x_{i}"
        )
        rows.append((f"CAST(:measure_{i} AS text)", f"o.n_{i}", f"o.d_{i}", f"o.x_{i}"))
    sql = f"""
WITH {ACTIVE},
doc AS (
    SELECT a.member_id, {", ".join(firsts)}
    FROM quality.assessments a
    GROUP BY a.member_id),
cases AS (
    SELECT c.provider_org_id, c.member_id, {", ".join(judged)}
    FROM active c
    LEFT JOIN doc ON doc.member_id = c.member_id),
members AS (
    SELECT provider_org_id, member_id, {", ".join(per_member)}
    FROM cases
    GROUP BY provider_org_id, member_id),
orgs AS (
    SELECT provider_org_id, {", ".join(per_org)}
    FROM members
    GROUP BY provider_org_id)
SELECT m.measure_id, o.provider_org_id, m.numerator, m.denominator, m.exclusions
FROM orgs o
CROSS JOIN LATERAL {values(rows, ("measure_id", "numerator", "denominator", "exclusions"), "m")}"""
    return Statement(sql, binds)


def latest_assessment_complete(measures: Sequence[tuple[str, Mapping[str, Any]]]) -> Statement:
    binds: dict[str, Any] = {}
    rows = []
    for i, (measure_id, params) in enumerate(measures):
        binds[f"measure_{i}"] = measure_id
        binds[f"required_{i}"] = sorted(params["required_fields"])
        rows.append((f"CAST(:measure_{i} AS text)", f"CAST(:required_{i} AS text[])"))
    sql = f"""
WITH {ACTIVE}
SELECT m.measure_id, c.provider_org_id,
       count(*) FILTER (WHERE l.present_fields @> m.required_fields) AS numerator,
       count(*) AS denominator,
       0 AS exclusions
FROM (SELECT DISTINCT provider_org_id, member_id FROM active) AS c
LEFT JOIN (
    SELECT DISTINCT ON (a.member_id) a.member_id, a.present_fields
    FROM quality.assessments a
    WHERE a.assessed_on <= {END}
    ORDER BY a.member_id, a.assessed_on DESC, a.assessment_id COLLATE "C" DESC) AS l
    ON l.member_id = c.member_id
CROSS JOIN {values(rows, ("measure_id", "required_fields"), "m")}
GROUP BY m.measure_id, c.provider_org_id"""
    return Statement(sql, binds)
