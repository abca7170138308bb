"""The engine, independent of any shipped measure: periods, enrolment spans, counting members
once per organization, rates and suppression below the minimum denominator."""

from dataclasses import replace
from datetime import date
from decimal import Decimal

import pytest

from hearth_quality.domain import (
    Case,
    Enrolment,
    InvalidPeriod,
    Measure,
    Period,
    Population,
    rate,
    score,
    score_all,
)

OCTOBER = Period.month("2026-10")


def always(_case: Case, _period: Period) -> bool:
    return True


def first_of_month_enrolment(case: Case, period: Period) -> bool:
    return case.enrolment.effective_date.day == 1


EVERYONE = Measure(
    measure_id="everyone",
    version="1",
    title="numerator is the members enrolled on a first of the month",
    denominator=always,
    numerator=first_of_month_enrolment,
)


def enrolment(member: str, org: str, start: date, ended_on: date | None = None, eid: str = "") -> Enrolment:
    return Enrolment(eid or f"e-{member}-{org}-{start}", member, org, start, ended_on)


def test_month_period_spans_the_whole_calendar_month() -> None:
    assert Period.month("2026-10") == Period(date(2026, 10, 1), date(2026, 10, 31), "2026-10")
    assert Period.month("2026-02").end == date(2026, 2, 28)
    assert Period.month("2024-02").end == date(2024, 2, 29)


@pytest.mark.parametrize("label", ["2026-13", "2026-00", "2026-1", "26-10", "2026-Q4", ""])
def test_malformed_month_is_refused_naming_the_period_field(label: str) -> None:
    with pytest.raises(InvalidPeriod) as err:
        Period.month(label)
    assert err.value.status_code == 422
    assert err.value.detail[0]["field"] == "period"


def test_enrolment_is_active_when_any_day_falls_in_the_period() -> None:
    assert enrolment("m", "o", date(2026, 10, 31)).active_in(OCTOBER)
    assert enrolment("m", "o", date(2025, 1, 1)).active_in(OCTOBER)
    assert not enrolment("m", "o", date(2026, 11, 1)).active_in(OCTOBER)
    # The disenrolment date is the first day no longer enrolled.
    assert enrolment("m", "o", date(2026, 9, 1), ended_on=date(2026, 10, 2)).active_in(OCTOBER)
    assert not enrolment("m", "o", date(2026, 9, 1), ended_on=date(2026, 10, 1)).active_in(OCTOBER)


def test_disenrolment_on_or_before_the_enrolment_date_voids_it() -> None:
    assert not enrolment("m", "o", date(2026, 10, 5), ended_on=date(2026, 10, 5)).active_in(OCTOBER)
    assert not enrolment("m", "o", date(2026, 10, 5), ended_on=date(2026, 9, 1)).active_in(OCTOBER)


def test_member_with_two_enrolments_at_one_organization_counts_once() -> None:
    population = Population.of(
        [
            enrolment("m1", "org-a", date(2026, 6, 1), ended_on=date(2026, 10, 10)),
            enrolment("m1", "org-a", date(2026, 10, 20)),
            enrolment("m2", "org-a", date(2026, 10, 3)),
        ]
    )
    [result] = score(EVERYONE, population, OCTOBER)
    assert (result.numerator, result.denominator) == (1, 2)
    assert result.rate == Decimal("0.500000")


def test_member_who_moved_between_organizations_counts_for_both() -> None:
    population = Population.of(
        [
            enrolment("m1", "org-a", date(2026, 9, 1), ended_on=date(2026, 10, 15)),
            enrolment("m1", "org-b", date(2026, 10, 15)),
        ]
    )
    results = {r.provider_org_id: r for r in score(EVERYONE, population, OCTOBER)}
    assert (results["org-a"].numerator, results["org-a"].denominator) == (1, 1)
    assert (results["org-b"].numerator, results["org-b"].denominator) == (0, 1)


def test_organization_with_members_but_empty_denominator_is_scored_not_reported() -> None:
    nobody = replace(EVERYONE, denominator=lambda _c, _p: False)
    population = Population.of([enrolment("m1", "org-a", date(2026, 10, 3))])
    [result] = score(nobody, population, OCTOBER)
    assert result.provider_org_id == "org-a"
    assert (result.numerator, result.denominator, result.rate, result.reported) == (0, 0, None, False)


def test_rate_is_suppressed_below_the_minimum_denominator() -> None:
    strict = replace(EVERYONE, minimum_denominator=3)
    two = Population.of(
        [enrolment("m1", "org-a", date(2026, 9, 1)), enrolment("m2", "org-a", date(2026, 9, 2))]
    )
    [below] = score(strict, two, OCTOBER)
    assert (below.numerator, below.denominator, below.rate, below.reported) == (1, 2, None, False)
    three = Population.of([*two.enrolments, enrolment("m3", "org-a", date(2026, 9, 3))])
    [at] = score(strict, three, OCTOBER)
    assert (at.numerator, at.denominator, at.rate, at.reported) == (1, 3, Decimal("0.333333"), True)


def test_exclusions_leave_both_numerator_and_denominator() -> None:
    excluded_m1 = replace(EVERYONE, exclusions=lambda case, _p: case.enrolment.member_id == "m1")
    population = Population.of(
        [enrolment("m1", "org-a", date(2026, 9, 1)), enrolment("m2", "org-a", date(2026, 9, 2))]
    )
    [result] = score(excluded_m1, population, OCTOBER)
    assert (result.numerator, result.denominator, result.rate) == (0, 1, Decimal("0.000000"))


def test_rate_has_six_places_rounded_half_up() -> None:
    assert rate(1, 3) == Decimal("0.333333")
    assert rate(2, 3) == Decimal("0.666667")
    assert rate(1, 8) == Decimal("0.125000")
    assert rate(1, 16_000_000) == Decimal("0.000000")
    assert rate(1, 2_000_000) == Decimal("0.000001")  # 0.0000005 rounds up
    assert rate(5, 5) == Decimal("1.000000")


def test_organizations_without_members_in_the_period_get_no_result() -> None:
    population = Population.of([enrolment("m1", "org-a", date(2026, 11, 1))])
    assert score(EVERYONE, population, OCTOBER) == []


def test_score_all_orders_by_measure_then_organization() -> None:
    other = replace(EVERYONE, measure_id="another")
    population = Population.of(
        [enrolment("m1", "org-b", date(2026, 9, 1)), enrolment("m2", "org-a", date(2026, 9, 1))]
    )
    keys = [(r.measure_id, r.provider_org_id) for r in score_all([EVERYONE, other], population, "2026-10")]
    assert keys == [("everyone", "org-a"), ("everyone", "org-b"), ("another", "org-a"), ("another", "org-b")]


@pytest.mark.parametrize(
    ("field", "value"), [("minimum_denominator", 0), ("measure_id", ""), ("version", "x" * 17)]
)
def test_a_measure_declaration_is_checked(field: str, value: object) -> None:
    with pytest.raises(ValueError):
        replace(EVERYONE, **{field: value})
