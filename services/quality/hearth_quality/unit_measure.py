"""Measures whose unit is not an enrolment in force in the period: a decedent (who may have left
the program for hospice weeks before dying) or a referral (which may never lead to an enrolment).
Plain Python.

Such a measure declares how to find its units in a population for a period: each unit names the
organization it is attributed to, whether it is excluded and whether it meets the numerator. The
engine counts them per organization exactly as for the other kinds (denominator = units not
excluded, rate = numerator / denominator, suppressed below the minimum denominator), so the three
kinds of measure publish identical results.
"""

from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from .domain import Enrolment, MeasureScore, Period, Population, check_declaration, proportion_scores
from .facts import ClaimLine
from .sql_declaration import SqlDeclaration


@dataclass(frozen=True)
class Unit:
    """One counted thing (a decedent, a referral) attributed to an organization."""

    provider_org_id: str
    key: str
    numerator: bool
    excluded: bool = False


Units = Callable[[Population, Period], Iterable[Unit]]


@dataclass(frozen=True)
class UnitMeasure:
    measure_id: str
    version: str
    title: str
    units: Units
    minimum_denominator: int = 1
    lookback_days: int = 0
    period_kinds: tuple[str, ...] = ("month", "quarter")
    # The same measure as set-based SQL (set_based.py): how a period is scored at scale.
    sql: SqlDeclaration | None = None

    def __post_init__(self) -> None:
        check_declaration(self.measure_id, self.version, self.minimum_denominator)

    def period(self, label: str) -> Period:
        return Period.parse(label)

    def score(self, population: Population, period: Period) -> list[MeasureScore]:
        return score_units(self, population, period)


def score_units(measure: UnitMeasure, population: Population, period: Period) -> list[MeasureScore]:
    """Count the units per organization. Organizations with members enrolled in the period get a
    result even without units (0 of 0, not reported), like every other measure."""
    denominators: dict[str, set[str]] = {
        e.provider_org_id: set() for e in population.enrolments if e.active_in(period)
    }
    numerators: dict[str, set[str]] = defaultdict(set)
    excluded: dict[str, set[str]] = defaultdict(set)
    for unit in measure.units(population, period):
        denominators.setdefault(unit.provider_org_id, set())
        if unit.excluded:
            excluded[unit.provider_org_id].add(unit.key)
            continue
        denominators[unit.provider_org_id].add(unit.key)
        if unit.numerator:
            numerators[unit.provider_org_id].add(unit.key)
    exclusions = {org: len(keys) for org, keys in excluded.items()}
    return proportion_scores(measure, period, denominators, numerators, exclusions)


@dataclass(frozen=True)
class DeathRule:
    """How a death becomes known to quality: a disenrolment for death (its effective date is the
    date of death: the program ends that day) or a claim line whose discharge status says the
    member expired (its last service day)."""

    disenrolment_reasons: frozenset[str]
    discharge_statuses: frozenset[str]

    @classmethod
    def of(cls, params: Mapping[str, Any]) -> "DeathRule":
        return cls(frozenset(params["death_reasons"]), frozenset(params["death_discharge_statuses"]))

    def date_of_death(self, enrolments: Iterable[Enrolment], lines: Iterable[ClaimLine]) -> date | None:
        known = [e.ended_on for e in enrolments if e.ended_on and e.end_reason in self.disenrolment_reasons]
        known += [line.service_to for line in lines if line.discharge_status in self.discharge_statuses]
        return min(known, default=None)


def enrolments_by_member(population: Population) -> dict[str, list[Enrolment]]:
    grouped: dict[str, list[Enrolment]] = defaultdict(list)
    for e in population.enrolments:
        grouped[e.member_id].append(e)
    return grouped


def attributed_at(enrolments: Iterable[Enrolment], day: date, lookback_days: int) -> Enrolment | None:
    """The enrolment a member had last on or before `day`, if it was in force within the
    lookback (a member who left the program for hospice is still the organization's decedent)."""
    horizon = day - timedelta(days=lookback_days)
    candidates = [
        e
        for e in enrolments
        if e.effective_date <= day
        and (e.ended_on is None or e.ended_on > e.effective_date)
        and (e.ended_on is None or e.ended_on >= horizon)
    ]
    return max(candidates, key=lambda e: (e.effective_date, e.enrollment_id), default=None)
