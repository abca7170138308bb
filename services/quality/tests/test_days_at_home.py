"""`days-at-home-per-member-year`, October 2026 (31 days).

Organization A:
| member | enrolled            | away from home                                            | at home | member-days   |
|--------|---------------------|-----------------------------------------------------------|---------|---------------|
| m1     | all month           | inpatient 10-03..10-06, SNF 10-06..10-10 (8 days), ED 10-20 | 22      | 31            |
| m2     | from 10-15 (17 d)   | inpatient 10-10..10-16: 10-15 and 10-16 while enrolled     | 15      | 17            |
| m3     | died, ends 10-21    | none (an office visit is not away)                         | 20      | 20 + 11 dead  |
| m4     | all month           | hospice at home 10-25..10-31 is not away                   | 31      | 31            |

88 days at home / 110 member-days = 0.8 (x 365 = 292 days per member-year).
Organization B: m5 enrolled from 10-20, 12 member-days: below the 30-day minimum, not reported.
"""

from datetime import date
from decimal import Decimal

from hearth_quality.domain import Enrolment, Period, Population
from hearth_quality.facts import ClaimLine
from hearth_quality.measures import PARAMETERS
from hearth_quality.measures_outcomes import days_at_home

OCTOBER = Period.month("2026-10")
MEASURE = days_at_home(PARAMETERS["days_at_home"])

ENROLMENTS = [
    Enrolment("e1", "m1", "org-a", date(2026, 9, 1)),
    Enrolment("e2", "m2", "org-a", date(2026, 10, 15)),
    Enrolment("e3", "m3", "org-a", date(2026, 9, 1), date(2026, 10, 21), "death"),
    Enrolment("e4", "m4", "org-a", date(2026, 9, 1)),
    Enrolment("e5", "m5", "org-b", date(2026, 10, 20)),
]


def line(claim: str, member: str, kind: str, start: date, end: date, ed: bool = False) -> ClaimLine:
    return ClaimLine(claim, 1, member, kind, start, end, None, ed)


LINES = [
    line("c1", "m1", "inpatient", date(2026, 10, 3), date(2026, 10, 6)),
    line("c2", "m1", "snf", date(2026, 10, 6), date(2026, 10, 10)),
    line("c3", "m1", "outpatient", date(2026, 10, 20), date(2026, 10, 20), ed=True),
    line("c4", "m2", "inpatient", date(2026, 10, 10), date(2026, 10, 16)),
    line("c5", "m3", "professional", date(2026, 10, 4), date(2026, 10, 4)),
    line("c6", "m4", "hospice", date(2026, 10, 25), date(2026, 10, 31)),
    line("c7", "m5", "inpatient", date(2026, 10, 22), date(2026, 10, 23)),
]


def scores() -> dict:
    population = Population.of(ENROLMENTS, claim_lines=LINES)
    return {s.provider_org_id: s for s in MEASURE.score(population, OCTOBER)}


def test_days_away_deaths_and_partial_months_give_the_hand_computed_share() -> None:
    a = scores()["org-a"]
    assert (a.numerator, a.denominator, a.rate, a.reported) == (88, 110, Decimal("0.800000"), True)
    assert a.rate * MEASURE.multiplier == Decimal(292)


def test_an_organization_below_thirty_member_days_is_not_reported() -> None:
    b = scores()["org-b"]
    assert (b.numerator, b.denominator, b.rate, b.reported) == (10, 12, None, False)


def test_a_stay_that_began_last_month_counts_only_its_days_in_this_month() -> None:
    stay = [line("c8", "m1", "snf", date(2026, 9, 20), date(2026, 10, 2))]
    population = Population.of(ENROLMENTS[:1], claim_lines=stay)
    [a] = MEASURE.score(population, OCTOBER)
    assert (a.numerator, a.denominator) == (29, 31)


def test_a_quarter_adds_up_the_days_of_its_three_months() -> None:
    population = Population.of(ENROLMENTS[:1], claim_lines=LINES[:3])
    [a] = MEASURE.score(population, Period.parse("2026-Q4"))
    # 92 days in October to December, 9 of them away.
    assert (a.numerator, a.denominator, a.rate) == (83, 92, Decimal("0.902174"))
