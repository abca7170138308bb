"""Months and quarters: what a period covers, and member-months over a quarter."""

from datetime import date
from decimal import Decimal

import pytest

from hearth_quality.domain import Enrolment, InvalidPeriod, Period, Population
from hearth_quality.facts import Visit
from hearth_quality.measures import PARAMETERS
from hearth_quality.measures_visits import visits_per_member_month


def test_a_quarter_covers_its_three_calendar_months() -> None:
    q4 = Period.parse("2026-Q4")
    assert (q4.start, q4.end, q4.days) == (date(2026, 10, 1), date(2026, 12, 31), 92)
    assert [m.label for m in q4.months()] == ["2026-10", "2026-11", "2026-12"]
    assert Period.parse("2026-02").end == date(2026, 2, 28)
    assert [p.label for p in Period.containing(date(2027, 3, 31))] == ["2027-03", "2027-Q1"]


@pytest.mark.parametrize(
    "label", ["2026-Q5", "2026-Q0", "2026-13", "2026-q4", "Q4-2026", "0000-01", "0000-Q1"]
)
def test_anything_but_a_month_or_a_quarter_is_refused(label: str) -> None:
    with pytest.raises(InvalidPeriod):
        Period.parse(label)


def test_quarter_member_months_count_each_month_with_an_enrolled_day() -> None:
    """m1 enrolled all quarter (3), m2 from 11-30 (2), m3 left on 11-01 (1: October only):
    6 member-months; 9 rn visits in the quarter give 1.5 per member-month."""
    enrolments = [
        Enrolment("e1", "m1", "org-a", date(2026, 9, 1)),
        Enrolment("e2", "m2", "org-a", date(2026, 11, 30)),
        Enrolment("e3", "m3", "org-a", date(2026, 9, 1), date(2026, 11, 1), "goals_met"),
    ]
    visits = [Visit(f"v{d}", "m1", "org-a", date(2026, 10, d), "rn", "in_person", 30) for d in range(1, 10)]
    measure = visits_per_member_month("rn", PARAMETERS["visits"])
    [a] = measure.score(Population.of(enrolments, visits=visits), Period.parse("2026-Q4"))
    assert (a.period, a.numerator, a.denominator, a.rate) == ("2026-Q4", 9, 6, Decimal("1.500000"))
