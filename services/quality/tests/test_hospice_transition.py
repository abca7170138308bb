"""`hospice-transition-los-7`: decedents of October 2026 and their hospice stay before death.

| member | enrolment (org)                 | death                          | hospice from | stay | counts?                       |
|--------|---------------------------------|--------------------------------|--------------|------|-------------------------------|
| d1     | A, left for hospice 10-01       | claim discharge 40, 10-12      | 10-01        | 11   | numerator                     |
| d2     | A, ends by death 10-20          | disenrolment 10-20             | claim 10-15  | 5    | denominator only              |
| d3     | A, ends by death 10-05          | disenrolment 10-05             | none         | 0    | denominator only              |
| d4     | A, left for hospice 2026-03-01  | claim discharge 41, 10-10      | 03-01        |      | no: left > 180 days before     |
| d5     | A, ends by death 09-25          | September                      |              |      | no: another period            |
| a1     | A, enrolled all month           | alive                          |              |      | no                            |
| d6     | B, ends by death 10-08          | disenrolment 10-08             | none         | 0    | B: 0 / 1                      |

A: 1 / 3 = 0.333333. With a minimum of 2 decedents, B (1 decedent) is not reported.
"""

from datetime import date
from decimal import Decimal

from hearth_quality.domain import Enrolment, Period, Population
from hearth_quality.facts import ClaimLine
from hearth_quality.measures import PARAMETERS
from hearth_quality.measures_outcomes import hospice_transition

OCTOBER = Period.month("2026-10")
PARAMS = PARAMETERS["hospice_transition"]

ENROLMENTS = [
    Enrolment("e1", "d1", "org-a", date(2026, 5, 1), date(2026, 10, 1), "hospice_election"),
    Enrolment("e2", "d2", "org-a", date(2026, 6, 1), date(2026, 10, 20), "death"),
    Enrolment("e3", "d3", "org-a", date(2026, 6, 1), date(2026, 10, 5), "death"),
    Enrolment("e4", "d4", "org-a", date(2026, 1, 1), date(2026, 3, 1), "hospice_election"),
    Enrolment("e5", "d5", "org-a", date(2026, 6, 1), date(2026, 9, 25), "death"),
    Enrolment("e6", "a1", "org-a", date(2026, 6, 1)),
    Enrolment("e7", "d6", "org-b", date(2026, 9, 1), date(2026, 10, 8), "death"),
]


def hospice(claim: str, member: str, start: date, end: date, status: str | None = None) -> ClaimLine:
    return ClaimLine(claim, 1, member, "hospice", start, end, discharge_status=status)


LINES = [
    hospice("h1", "d1", date(2026, 10, 1), date(2026, 10, 12), "40"),
    hospice("h2", "d2", date(2026, 10, 15), date(2026, 10, 20)),
    hospice("h4", "d4", date(2026, 3, 1), date(2026, 10, 10), "41"),
]


def scores(params=PARAMS) -> dict:
    population = Population.of(ENROLMENTS, claim_lines=LINES)
    return {s.provider_org_id: s for s in hospice_transition(params).score(population, OCTOBER)}


def test_decedents_with_seven_hospice_days_over_all_decedents_of_the_month() -> None:
    a = scores()["org-a"]
    assert (a.measure_id, a.numerator, a.denominator, a.rate) == (
        "hospice-transition-los-7",
        1,
        3,
        Decimal("0.333333"),
    )


def test_below_the_minimum_count_of_decedents_the_share_is_not_reported() -> None:
    both = scores(PARAMS | {"minimum_decedents": 2})
    assert (both["org-a"].reported, both["org-a"].rate) == (True, Decimal("0.333333"))
    assert (both["org-b"].numerator, both["org-b"].denominator) == (0, 1)
    assert (both["org-b"].reported, both["org-b"].rate) == (False, None)


def test_a_three_day_threshold_is_a_new_measure_from_data() -> None:
    three = hospice_transition(PARAMS | {"minimum_length_of_stay_days": 3})
    population = Population.of(ENROLMENTS, claim_lines=LINES)
    a = next(s for s in three.score(population, OCTOBER) if s.provider_org_id == "org-a")
    assert (three.measure_id, a.numerator, a.denominator) == ("hospice-transition-los-3", 2, 3)
