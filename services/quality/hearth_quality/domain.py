"""The measure engine: facts, periods, and the evaluation of a declared measure. Plain Python.

A measure is evaluated over *cases*: one case is one enrolment of a member with one provider
organization, together with what is known about that member (assessments, visits, surveys and
claim lines). A measure declares three predicates over a case and a period (denominator,
exclusions, numerator); the engine does the rest the same way for every measure: it groups the
cases of the period by organization and member, counts, computes the rate and suppresses it below
the measure's minimum denominator. Adding a measure is declaring one `Measure` in `measures.py`.
Measures that count events rather than members (visits, admissions, survey answers) are declared
as a `RatioMeasure` (ratio.py) and scored the same way per organization.
"""

import calendar
import re
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import ROUND_HALF_UP, Decimal
from typing import Any, Protocol, TypeVar

from hearth_platform.errors import Invalid

from .facts import ClaimLine, Referral, Survey, Visit
from .sql_declaration import SqlDeclaration

RATE_PLACES = Decimal("0.000001")
_MONTH = re.compile(r"^(\d{4})-(0[1-9]|1[0-2])$")
_QUARTER = re.compile(r"^(\d{4})-Q([1-4])$")
PERIOD_PATTERN = r"^\d{4}-(0[1-9]|1[0-2]|Q[1-4])$"


class InvalidPeriod(Invalid):
    def __init__(self, label: str) -> None:
        super().__init__(
            "period must be a calendar month as YYYY-MM or a quarter as YYYY-Qn",
            detail=[{"field": "period", "reason": "expected YYYY-MM (month 01 to 12) or YYYY-Q1 to YYYY-Q4"}],
        )
        self.label = label


@dataclass(frozen=True, order=True)
class Period:
    """A reporting period: its first and last day, both included, and its label ("2026-10")."""

    start: date
    end: date
    label: str

    @classmethod
    def month(cls, label: str) -> "Period":
        match = _MONTH.match(label)
        if match is None or int(match[1]) < 1:
            raise InvalidPeriod(label)
        year, month = int(match[1]), int(match[2])
        last = calendar.monthrange(year, month)[1]
        return cls(date(year, month, 1), date(year, month, last), label)

    @classmethod
    def quarter(cls, label: str) -> "Period":
        match = _QUARTER.match(label)
        if match is None or int(match[1]) < 1:
            raise InvalidPeriod(label)
        year, quarter = int(match[1]), int(match[2])
        last_month = 3 * quarter
        last = calendar.monthrange(year, last_month)[1]
        return cls(date(year, last_month - 2, 1), date(year, last_month, last), label)

    @classmethod
    def parse(cls, label: str) -> "Period":
        """A month ("2026-10") or a quarter ("2026-Q4")."""
        return cls.quarter(label) if "Q" in label else cls.month(label)

    @property
    def is_quarter(self) -> bool:
        return "Q" in self.label

    def months(self) -> "list[Period]":
        """The calendar months of the period, in order (one for a month)."""
        if not self.is_quarter:
            return [self]
        return [
            Period.month(f"{self.start.year}-{m:02d}") for m in range(self.start.month, self.end.month + 1)
        ]

    @property
    def days(self) -> int:
        return (self.end - self.start).days + 1

    @classmethod
    def containing(cls, day: date) -> "tuple[Period, Period]":
        """The month and the quarter a day falls in."""
        quarter = (day.month - 1) // 3 + 1
        return cls.month(f"{day.year}-{day.month:02d}"), cls.quarter(f"{day.year}-Q{quarter}")


@dataclass(frozen=True)
class Enrolment:
    """One enrolment in the program with one provider organization.

    `ended_on` is the effective date of the disenrolment: the first day the member is no longer
    enrolled, so the member is enrolled on the days [effective_date, ended_on). A disenrolment
    effective on or before the enrolment date voids the enrolment (it was never in force).
    """

    enrollment_id: str
    member_id: str
    provider_org_id: str
    effective_date: date
    ended_on: date | None = None
    end_reason: str | None = None

    def active_in(self, period: Period) -> bool:
        if self.effective_date > period.end:
            return False
        if self.ended_on is None:
            return True
        return self.ended_on > period.start and self.ended_on > self.effective_date

    def enrolled_on(self, day: date) -> bool:
        return self.effective_date <= day and (self.ended_on is None or day < self.ended_on)


@dataclass(frozen=True)
class Assessment:
    """The measure-relevant findings of one assessment (structured, no free text)."""

    assessment_id: str
    member_id: str
    provider_org_id: str
    assessed_on: date
    surrogate_identified: bool
    surrogate_relationship: str | None = None
    goals_of_care_documented: bool = False
    advance_directive_on_file: bool = False
    referral_id: str | None = None
    # Names of the optional findings the assessment carried (no values).
    present_fields: frozenset[str] = frozenset()


F = TypeVar("F", Assessment, Visit, Survey, ClaimLine)
T = TypeVar("T")


@dataclass(frozen=True)
class Case:
    """One enrolment and what is known about its member: what a measure's predicates look at."""

    enrolment: Enrolment
    assessments: tuple[Assessment, ...] = ()
    visits: tuple[Visit, ...] = ()
    surveys: tuple[Survey, ...] = ()
    claim_lines: tuple[ClaimLine, ...] = ()


CasePredicate = Callable[[Case, Period], bool]


def never(_case: Case, _period: Period) -> bool:
    return False


def check_declaration(measure_id: str, version: str, minimum_denominator: int) -> None:
    """What every kind of measure requires of its declaration."""
    if not 0 < len(measure_id) <= 64 or not 0 < len(version) <= 16:
        raise ValueError("a measure needs an id of at most 64 and a version of at most 16 characters")
    if minimum_denominator < 1:
        raise ValueError("the minimum denominator must be at least 1 (a rate needs a denominator)")


@dataclass(frozen=True)
class Measure:
    """A measure as a small declared unit: identity and version, the three predicates over a case,
    the period it is reported for, and the minimum denominator below which the rate is not
    reported (too few members for the rate to mean anything, and billing pays nothing on it).

    A change to any predicate or to the minimum is a new `version`: results carry the version they
    were computed with, so a score can always be traced to the rule that produced it.
    """

    measure_id: str
    version: str
    title: str
    denominator: CasePredicate
    numerator: CasePredicate
    exclusions: CasePredicate = never
    minimum_denominator: int = 1
    period_kinds: tuple[str, ...] = ("month", "quarter")
    # The same measure as set-based SQL (set_based.py): how a period is scored at scale.
    sql: SqlDeclaration | None = None

    def __post_init__(self) -> None:
        check_declaration(self.measure_id, self.version, self.minimum_denominator)

    def period(self, label: str) -> Period:
        return Period.parse(label)

    def score(self, population: "Population", period: Period) -> "list[MeasureScore]":
        return score(self, population, period)


@dataclass(frozen=True)
class MeasureScore:
    """The outcome of one measure for one provider organization and period."""

    measure_id: str
    measure_version: str
    provider_org_id: str
    period: str
    numerator: int
    denominator: int
    rate: Decimal | None
    reported: bool
    # Members (or units) in the denominator population that an exclusion took out.
    exclusions: int = 0


def _by_member(facts: Iterable[F]) -> dict[str, list[F]]:
    grouped: dict[str, list[F]] = defaultdict(list)
    for fact in facts:
        grouped[fact.member_id].append(fact)
    return grouped


@dataclass(frozen=True)
class Population:
    """The facts loaded for one period: enrolments and each member's assessments, visits,
    surveys and claim lines."""

    enrolments: tuple[Enrolment, ...]
    assessments: Mapping[str, tuple[Assessment, ...]] = field(default_factory=dict)
    visits: Mapping[str, tuple[Visit, ...]] = field(default_factory=dict)
    surveys: Mapping[str, tuple[Survey, ...]] = field(default_factory=dict)
    claim_lines: Mapping[str, tuple[ClaimLine, ...]] = field(default_factory=dict)
    referrals: tuple[Referral, ...] = ()
    # What several measures derive from the same facts (cases, memberships of a period), built
    # once per population.
    _memo: dict[Any, Any] = field(default_factory=dict, compare=False, repr=False)

    def memo(self, key: Any, build: Callable[[], T]) -> T:
        if key not in self._memo:
            self._memo[key] = build()
        return self._memo[key]  # type: ignore[no-any-return]

    @classmethod
    def of(
        cls,
        enrolments: Iterable[Enrolment],
        assessments: Iterable[Assessment] = (),
        visits: Iterable[Visit] = (),
        surveys: Iterable[Survey] = (),
        claim_lines: Iterable[ClaimLine] = (),
        referrals: Iterable[Referral] = (),
    ) -> "Population":
        return cls(
            tuple(enrolments),
            {
                m: tuple(sorted(items, key=lambda a: (a.assessed_on, a.assessment_id)))
                for m, items in _by_member(assessments).items()
            },
            {m: tuple(items) for m, items in _by_member(visits).items()},
            {m: tuple(items) for m, items in _by_member(surveys).items()},
            {m: tuple(items) for m, items in _by_member(claim_lines).items()},
            tuple(referrals),
        )

    def case(self, enrolment: Enrolment) -> Case:
        member = enrolment.member_id
        return Case(
            enrolment,
            self.assessments.get(member, ()),
            self.visits.get(member, ()),
            self.surveys.get(member, ()),
            self.claim_lines.get(member, ()),
        )

    def cases(self, period: Period) -> list[Case]:
        return self.memo(
            ("cases", period), lambda: [self.case(e) for e in self.enrolments if e.active_in(period)]
        )


def rate(numerator: int, denominator: int) -> Decimal:
    return (Decimal(numerator) / Decimal(denominator)).quantize(RATE_PLACES, rounding=ROUND_HALF_UP)


def score(measure: Measure, population: Population, period: Period) -> list[MeasureScore]:
    """Score `measure` for every organization with members enrolled in `period`.

    Members are counted once per organization: a member with several enrolments there (left and
    came back) is in the denominator when any of them qualifies (in the denominator and not
    excluded), and in the numerator when any qualifying one meets the numerator.
    """
    in_denominator: dict[str, set[str]] = {}
    in_numerator: dict[str, set[str]] = defaultdict(set)
    excluded: dict[str, set[str]] = defaultdict(set)
    for case in population.cases(period):
        org, member = case.enrolment.provider_org_id, case.enrolment.member_id
        # Every organization with a member in the period gets a result, even an empty one.
        in_denominator.setdefault(org, set())
        if not measure.denominator(case, period):
            continue
        if measure.exclusions(case, period):
            excluded[org].add(member)
            continue
        in_denominator[org].add(member)
        if measure.numerator(case, period):
            in_numerator[org].add(member)
    # A member excluded by one enrolment but counted by another is not excluded.
    exclusions = {org: len(excluded[org] - in_denominator[org]) for org in in_denominator}
    return proportion_scores(measure, period, in_denominator, in_numerator, exclusions)


class Declared(Protocol):
    measure_id: str
    version: str
    minimum_denominator: int


def proportion_scores(
    measure: Declared,
    period: Period,
    denominators: Mapping[str, set[str]],
    numerators: Mapping[str, set[str]],
    exclusions: Mapping[str, int],
) -> list[MeasureScore]:
    """One score per organization from the members (or units) counted in its denominator and
    numerator; below the measure's minimum denominator the rate is not reported."""
    scores = []
    for org in sorted(denominators):
        d, n = len(denominators[org]), len(numerators.get(org, ()))
        reported = d >= measure.minimum_denominator
        scores.append(
            MeasureScore(
                measure_id=measure.measure_id,
                measure_version=measure.version,
                provider_org_id=org,
                period=period.label,
                numerator=n,
                denominator=d,
                rate=rate(n, d) if reported else None,
                reported=reported,
                exclusions=exclusions.get(org, 0),
            )
        )
    return scores


class Scorable(Protocol):
    """What the engine needs of any kind of measure (`Measure`, `RatioMeasure`)."""

    measure_id: str
    version: str
    title: str
    period_kinds: tuple[str, ...]
    minimum_denominator: int

    def period(self, label: str) -> Period: ...

    def score(self, population: Population, period: Period) -> list[MeasureScore]: ...


def score_all(measures: Iterable[Scorable], population: Population, period_label: str) -> list[MeasureScore]:
    """Every measure of the catalogue for one period, ordered by measure then organization."""
    results: list[MeasureScore] = []
    for measure in measures:
        results.extend(measure.score(population, measure.period(period_label)))
    return results


@dataclass(frozen=True)
class MeasureResult:
    """A stored score: what was computed, in which run of its period, and when."""

    score_id: str
    run: int
    computed_at: datetime
    score: MeasureScore
