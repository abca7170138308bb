"""Ratio measures: events counted per organization over a denominator that is itself a count
(member-months, visits, surveys). Plain Python.

A proportion `Measure` counts members; visits per member-month, admissions per member-months or
the share of top-box survey answers count events. A `RatioMeasure` declares two tallies over a
*membership* (one member's enrolments with one organization in the period, and the member's
facts); the engine sums them per organization, computes numerator / denominator and suppresses
the rate below the declared minimum denominator, exactly as for a proportion.

The published rate is numerator / denominator, never scaled: `PerformanceScored.rate` holds at
most three digits before the decimal point, and a rate per 1,000 member-months routinely passes
1,000. The declared `multiplier` (12,000 for "per 1,000 member-months, annualized") turns it into
the figure of the specification; the API shows both.
"""

from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from functools import cached_property
from typing import TypeVar

from .domain import Assessment, Enrolment, MeasureScore, Period, Population, check_declaration, rate
from .facts import ClaimLine, Survey, Visit
from .sql_declaration import SqlDeclaration

# PerformanceScored.rate: at most 9 digits, 6 after the point.
RATE_CEILING = Decimal("1000")


@dataclass(frozen=True)
class Membership:
    """One member with one organization in a period: every enrolment there in force during the
    period (a member who left and came back has two), and the member's facts."""

    provider_org_id: str
    member_id: str
    enrolments: tuple[Enrolment, ...]
    assessments: tuple[Assessment, ...] = ()
    visits: tuple[Visit, ...] = ()
    surveys: tuple[Survey, ...] = ()
    claim_lines: tuple[ClaimLine, ...] = ()
    period: Period | None = None

    def visits_in(self, period: Period) -> tuple[Visit, ...]:
        """The organization's visits that count in `period`; for the membership's own period
        computed once and shared by every visit measure."""
        if period == self.period:
            return self._own_visits
        return _counted(self, self.visits, period, _visit_date)

    def surveys_in(self, period: Period) -> tuple[Survey, ...]:
        """The organization's surveys that count in `period` (shared like `visits_in`)."""
        if period == self.period:
            return self._own_surveys
        return _counted(self, self.surveys, period, _survey_date)

    @cached_property
    def _own_visits(self) -> tuple[Visit, ...]:
        assert self.period is not None
        return _counted(self, self.visits, self.period, _visit_date)

    @cached_property
    def _own_surveys(self) -> tuple[Survey, ...]:
        assert self.period is not None
        return _counted(self, self.surveys, self.period, _survey_date)

    def enrolled_on(self, day: date) -> bool:
        if len(self.enrolments) == 1:
            return self.enrolments[0].enrolled_on(day)
        return any(e.enrolled_on(day) for e in self.enrolments)

    def counts(self, day: date, period: Period) -> bool:
        """A fact dated `day` counts for this membership in `period`: inside the period and on
        a day the member was enrolled with the organization."""
        return period.start <= day <= period.end and self.enrolled_on(day)


R = TypeVar("R", Visit, Survey)


def _visit_date(v: Visit) -> date:
    return v.visit_date


def _survey_date(s: Survey) -> date:
    return s.survey_date


def _counted(m: Membership, facts: Iterable[R], period: Period, day_of: Callable[[R], date]) -> tuple[R, ...]:
    return tuple(f for f in facts if f.provider_org_id == m.provider_org_id and m.counts(day_of(f), period))


def memberships(population: Population, period: Period) -> list[Membership]:
    """Built once per population and period and shared by every ratio measure."""
    return population.memo(("memberships", period), lambda: _memberships(population, period))


def _memberships(population: Population, period: Period) -> list[Membership]:
    grouped: dict[tuple[str, str], list[Enrolment]] = defaultdict(list)
    for e in population.enrolments:
        if e.active_in(period):
            grouped[(e.provider_org_id, e.member_id)].append(e)
    return [
        Membership(
            org,
            member,
            tuple(enrolments),
            population.assessments.get(member, ()),
            population.visits.get(member, ()),
            population.surveys.get(member, ()),
            population.claim_lines.get(member, ()),
            period,
        )
        for (org, member), enrolments in grouped.items()
    ]


Tally = Callable[[Membership, Period], int]


def member_months(membership: Membership, period: Period) -> int:
    """A member enrolled with the organization on at least one day of a month is one
    member-month (two enrolments in one month are still one); a quarter sums its months."""
    return sum(1 for month in period.months() if any(e.active_in(month) for e in membership.enrolments))


@dataclass(frozen=True)
class RatioMeasure:
    """A measure that counts events: identity and version, the numerator and denominator tallies
    per membership, the minimum denominator below which the rate is not reported, and the
    multiplier of the specification's figure (display only)."""

    measure_id: str
    version: str
    title: str
    numerator: Tally
    denominator: Tally
    minimum_denominator: int = 1
    multiplier: Decimal = Decimal(1)
    period_kinds: tuple[str, ...] = ("month", "quarter")
    # The same measure as set-based SQL (set_based.py): how a period is scored at scale.
    sql: SqlDeclaration | None = None

    def __post_init__(self) -> None:
        check_declaration(self.measure_id, self.version, self.minimum_denominator)

    def period(self, label: str) -> Period:
        return Period.parse(label)

    def score(self, population: Population, period: Period) -> list[MeasureScore]:
        return score_ratio(self, population, period)


def score_ratio(measure: RatioMeasure, population: Population, period: Period) -> list[MeasureScore]:
    """Score a ratio measure for every organization with members enrolled in `period`.

    A rate that would not fit the published contract (1,000 events or more per unit) is not
    reported rather than published wrong; the counts still are.
    """
    numerators: dict[str, int] = defaultdict(int)
    denominators: dict[str, int] = defaultdict(int)
    for m in memberships(population, period):
        numerators[m.provider_org_id] += measure.numerator(m, period)
        denominators[m.provider_org_id] += measure.denominator(m, period)
    scores = []
    for org in sorted(denominators):
        n, d = numerators[org], denominators[org]
        value = rate(n, d) if d else None
        reported = d >= measure.minimum_denominator and value is not None and value < RATE_CEILING
        scores.append(
            MeasureScore(
                measure_id=measure.measure_id,
                measure_version=measure.version,
                provider_org_id=org,
                period=period.label,
                numerator=n,
                denominator=d,
                rate=value if reported else None,
                reported=reported,
            )
        )
    return scores
