"""The set-based form of a measure: which SQL family computes it, with which parameters. Plain
Python (the statements are text; repository code runs them).

Scoring members one by one in Python does not scale to a plan's population, so every shipped
measure also names a *family* of SQL (`SqlDeclaration`): a statement that computes, for all the
measures of that family at once and every provider organization, the numerator, denominator and
exclusions of a period inside Postgres. Python then applies the same suppression as the
in-memory engine (minimum denominator, the rate ceiling of a ratio) to those few aggregate rows.

The parameters of a declaration are data (from measures.toml): a new measure of an existing
family is a new declaration with other parameters, for example another visit discipline or
another assessment finding documented within a window. The in-memory engine (domain.py,
ratio.py, unit_measure.py) stays the reference: tests hold both to the same numbers.

A family compiler turns the declarations of its measures into one statement returning rows
`(measure_id, provider_org_id, numerator, denominator, exclusions)`; the period's bounds are the
binds `period_start`, `period_end` and `since` (the first day facts are looked at, the catalogue's
lookback before the period), and the period's enrolments are prepared once per run (`PREPARE`).
"""

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from .domain import MeasureScore, Period, rate
from .ratio import RATE_CEILING


@dataclass(frozen=True)
class Statement:
    """One compiled statement of a family and its binds (besides the period's)."""

    sql: str
    binds: dict[str, Any]


Compiler = Callable[[Sequence[tuple[str, Mapping[str, Any]]]], Statement]

START = "CAST(:period_start AS date)"
END = "CAST(:period_end AS date)"
SINCE = "CAST(:since AS date)"

# The enrolments every family starts from, kept once per run in a temporary table (dropped at
# commit) so that each family reads them without recomputing the join, and the planner knows
# their size: enrolments in force at some time from `since` to the period's end (the facts the
# in-memory engine loads, FactRepository.population), flagged when in force on at least one day
# of the period itself (Enrolment.active_in).
PERIOD_ENROLMENTS = "pg_temp.quality_period_enrolments"
PREPARE: tuple[str, ...] = (
    # Sorts and hashes over a period's members stay in memory (this transaction only).
    "SET LOCAL work_mem = '64MB'",
    f"DROP TABLE IF EXISTS {PERIOD_ENROLMENTS}",
    f"""
CREATE TEMPORARY TABLE quality_period_enrolments ON COMMIT DROP AS
SELECT e.enrollment_id, e.member_id, e.provider_org_id, e.effective_date,
       d.effective_date AS ended_on, d.reason AS end_reason,
       (d.effective_date IS NULL OR (d.effective_date > {START} AND d.effective_date > e.effective_date))
           AS in_period
FROM quality.enrolments e
LEFT JOIN quality.disenrolments d ON d.enrollment_id = e.enrollment_id
WHERE e.effective_date <= {END} AND (d.effective_date IS NULL OR d.effective_date > {SINCE})""",
    f"CREATE INDEX ON {PERIOD_ENROLMENTS} (member_id)",
    f"ANALYZE {PERIOD_ENROLMENTS}",
)
# Inlined wherever they are used, so each use sees the table's statistics and index.
ACTIVE = f"active AS NOT MATERIALIZED (SELECT * FROM {PERIOD_ENROLMENTS} WHERE in_period)"
LOADED = f"loaded AS NOT MATERIALIZED (SELECT * FROM {PERIOD_ENROLMENTS})"


def covering(fact_date: str, alias: str = "c") -> str:
    """The enrolment `alias` covers the day `fact_date` (Enrolment.enrolled_on)."""
    return f"{alias}.effective_date <= {fact_date} AND ({alias}.ended_on IS NULL OR {fact_date} < {alias}.ended_on)"


def values(rows: Sequence[Sequence[str]], names: Sequence[str], alias: str) -> str:
    """A VALUES list (one row per measure) usable in FROM / LATERAL."""
    body = ", ".join("(" + ", ".join(row) + ")" for row in rows)
    return f"(VALUES {body}) AS {alias}({', '.join(names)})"


def finish(
    kind: str,
    measure_id: str,
    version: str,
    minimum_denominator: int,
    period: Period,
    org: str,
    numerator: int,
    denominator: int,
    exclusions: int,
) -> MeasureScore:
    """The published score from the aggregate counts, suppressed exactly as the in-memory engine
    does: a proportion below its minimum denominator has no rate; a ratio also has none when the
    rate would not fit the published contract (RATE_CEILING)."""
    if kind == "ratio":
        value = rate(numerator, denominator) if denominator else None
        reported = denominator >= minimum_denominator and value is not None and value < RATE_CEILING
    else:
        reported = denominator >= minimum_denominator
        value = rate(numerator, denominator) if reported else None
    return MeasureScore(
        measure_id=measure_id,
        measure_version=version,
        provider_org_id=org,
        period=period.label,
        numerator=numerator,
        denominator=denominator,
        rate=value if reported else None,
        reported=reported,
        exclusions=exclusions,
    )
