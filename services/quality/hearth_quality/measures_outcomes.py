"""Outcomes from the plan's claims and from disenrolments: days at home, and hospice transition
among decedents.

`days-at-home-per-member-year`: of the days a member was enrolled with the organization in the
period, the days not spent away from home (a day covered by an away claim line, such as an
inpatient or skilled nursing stay from its first to its last service day, or a day with an ED
visit). A member whose enrolment ended by death in the period adds the days from the death to the
period's end to the denominator and none to the numerator: dying early is not time at home. The
published rate is days at home / member-days (a share, at most 1); x 365 (the declared
multiplier) it is the specification's days at home per member-year.

`hospice-transition-los-7`: among members who died in the period and were enrolled with the
organization (or left it within the lookback, typically for hospice), the share whose hospice
stay before death lasted at least the declared number of days. The hospice stay starts on the
earliest of a hospice-election disenrolment and a hospice claim line within the lookback.
"""

from collections.abc import Iterable, Mapping
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

from .domain import Period, Population
from .ratio import Membership, RatioMeasure
from .sql_declaration import SqlDeclaration
from .unit_measure import DeathRule, Unit, UnitMeasure, attributed_at, enrolments_by_member

Span = tuple[date, date]


def _merge(spans: Iterable[Span]) -> list[Span]:
    merged: list[Span] = []
    for start, end in sorted(spans):
        if merged and start <= merged[-1][1] + timedelta(days=1):
            merged[-1] = (merged[-1][0], max(merged[-1][1], end))
        else:
            merged.append((start, end))
    return merged


def _days(spans: Iterable[Span]) -> int:
    return sum((end - start).days + 1 for start, end in spans)


def _intersect(a: list[Span], b: list[Span]) -> list[Span]:
    return [(max(s1, s2), min(e1, e2)) for s1, e1 in a for s2, e2 in b if max(s1, s2) <= min(e1, e2)]


def enrolled_spans(m: Membership, period: Period) -> list[Span]:
    """The days of the period the member was enrolled with the organization, as merged spans."""
    spans = []
    for e in m.enrolments:
        start = max(e.effective_date, period.start)
        end = period.end if e.ended_on is None else min(e.ended_on - timedelta(days=1), period.end)
        if start <= end:
            spans.append((start, end))
    return _merge(spans)


def days_at_home(params: Mapping[str, Any]) -> RatioMeasure:
    away_types = frozenset(params["away_claim_types"])
    ed_days_away = bool(params["ed_days_away"])
    deaths = frozenset(params["death_reasons"])

    def away_spans(m: Membership, period: Period) -> list[Span]:
        spans = []
        for line in m.claim_lines:
            if line.claim_type in away_types:
                spans.append((line.service_from, line.service_to))
            elif ed_days_away and line.ed_visit:
                spans.append((line.service_from, line.service_from))
        return _merge((max(s, period.start), min(e, period.end)) for s, e in spans if s <= period.end)

    def at_home(m: Membership, period: Period) -> int:
        enrolled = enrolled_spans(m, period)
        return _days(enrolled) - _days(_intersect(enrolled, away_spans(m, period)))

    def member_days(m: Membership, period: Period) -> int:
        after_death = [
            e.ended_on
            for e in m.enrolments
            if e.end_reason in deaths and e.ended_on is not None and period.start <= e.ended_on <= period.end
        ]
        dead_days = (period.end - min(after_death)).days + 1 if after_death else 0
        return _days(enrolled_spans(m, period)) + dead_days

    return RatioMeasure(
        measure_id="days-at-home-per-member-year",
        version=str(params["version"]),
        title="Days at home per member-year (share of member-days not away from home)",
        numerator=at_home,
        denominator=member_days,
        minimum_denominator=int(params["minimum_member_days"]),
        multiplier=Decimal(params["days_per_member_year"]),
        sql=SqlDeclaration("days_at_home", params),
    )


def hospice_transition(params: Mapping[str, Any]) -> UnitMeasure:
    rule = DeathRule.of(params)
    lookback = int(params["lookback_days"])
    minimum_stay = int(params["minimum_length_of_stay_days"])
    hospice_reasons = frozenset(params["hospice_reasons"])
    hospice_types = frozenset(params["hospice_claim_types"])

    def decedents(population: Population, period: Period) -> Iterable[Unit]:
        for member, enrolments in enrolments_by_member(population).items():
            lines = population.claim_lines.get(member, ())
            died = rule.date_of_death(enrolments, lines)
            if died is None or not period.start <= died <= period.end:
                continue
            enrolment = attributed_at(enrolments, died, lookback)
            if enrolment is None:
                continue
            horizon = died - timedelta(days=lookback)
            starts = [
                e.ended_on
                for e in enrolments
                if e.end_reason in hospice_reasons
                and e.ended_on is not None
                and horizon <= e.ended_on <= died
            ]
            starts += [
                line.service_from
                for line in lines
                if line.claim_type in hospice_types and horizon <= line.service_from <= died
            ]
            stay = (died - min(starts)).days if starts else 0
            yield Unit(enrolment.provider_org_id, member, numerator=stay >= minimum_stay)

    return UnitMeasure(
        measure_id=f"hospice-transition-los-{minimum_stay}",
        version=str(params["version"]),
        title=f"Decedents with a hospice stay of at least {minimum_stay} days before death",
        units=decedents,
        minimum_denominator=int(params["minimum_decedents"]),
        lookback_days=lookback,
        sql=SqlDeclaration("hospice_transition", params),
    )
