"""`unplanned-admissions-per-1000-mm` and `ed-visits-per-1000-mm`, October 2026.

Organization A: m1, m2 enrolled all month, m3 enrolled from 15 October: 3 member-months.

| claim | member | lines (type, from)                         | admission | ED  | counts?                          |
|-------|--------|--------------------------------------------|-----------|-----|----------------------------------|
| c1    | m1     | inpatient 10-03, inpatient 10-05           | emergency |     | 1 admission (one claim)          |
| c2    | m1     | inpatient 10-20                            | elective  |     | no: planned                      |
| c3    | m2     | inpatient 09-29, inpatient 10-02           | urgent    |     | no: admitted in September        |
| c4    | m3     | inpatient 10-10                            | emergency |     | no: before enrolment             |
| c5    | m3     | inpatient 10-18                            | urgent    |     | 1 admission                      |
| c6    | m1     | outpatient 10-07 ED, outpatient 10-07 ED   |           | yes | 1 ED visit (one claim, one day)  |
| c7    | m2     | outpatient 10-08 ED, outpatient 10-22 ED   |           | yes | 2 ED visits (two days)           |
| c8    | m2     | professional 10-09                         |           | no  | no                               |

Admissions 2 / 3 member-months = 0.666667 (x 12,000 = 8,000 per 1,000 member-months);
ED visits 3 / 3 = 1.000000.
"""

from datetime import date
from decimal import Decimal

from hearth_quality.domain import Enrolment, MeasureScore, Period, Population
from hearth_quality.facts import ClaimLine
from hearth_quality.measures import PARAMETERS
from hearth_quality.measures_utilization import utilization_measures

OCTOBER = Period.month("2026-10")
PARAMS = PARAMETERS["utilization"]

ENROLMENTS = [
    Enrolment("e1", "m1", "org-a", date(2026, 9, 1)),
    Enrolment("e2", "m2", "org-a", date(2026, 9, 1)),
    Enrolment("e3", "m3", "org-a", date(2026, 10, 15)),
]


def line(
    claim: str, n: int, member: str, kind: str, on: date, admission: str | None = None, ed: bool = False
):
    return ClaimLine(claim, n, member, kind, on, on, admission, ed)


LINES = [
    line("c1", 1, "m1", "inpatient", date(2026, 10, 3), "emergency"),
    line("c1", 2, "m1", "inpatient", date(2026, 10, 5), "emergency"),
    line("c2", 1, "m1", "inpatient", date(2026, 10, 20), "elective"),
    line("c3", 1, "m2", "inpatient", date(2026, 9, 29), "urgent"),
    line("c3", 2, "m2", "inpatient", date(2026, 10, 2), "urgent"),
    line("c4", 1, "m3", "inpatient", date(2026, 10, 10), "emergency"),
    line("c5", 1, "m3", "inpatient", date(2026, 10, 18), "urgent"),
    line("c6", 1, "m1", "outpatient", date(2026, 10, 7), ed=True),
    line("c6", 2, "m1", "outpatient", date(2026, 10, 7), ed=True),
    line("c7", 1, "m2", "outpatient", date(2026, 10, 8), ed=True),
    line("c7", 2, "m2", "outpatient", date(2026, 10, 22), ed=True),
    line("c8", 1, "m2", "professional", date(2026, 10, 9)),
]


def scored(params=PARAMS, lines=LINES) -> dict[str, MeasureScore]:
    population = Population.of(ENROLMENTS, claim_lines=lines)
    return {m.measure_id: m.score(population, OCTOBER)[0] for m in utilization_measures(params)}


def test_hand_computed_unplanned_admissions_per_member_month() -> None:
    admits = scored()["unplanned-admissions-per-1000-mm"]
    assert (admits.numerator, admits.denominator, admits.rate, admits.reported) == (
        2,
        3,
        Decimal("0.666667"),
        True,
    )


def test_hand_computed_ed_visits_per_member_month() -> None:
    ed = scored()["ed-visits-per-1000-mm"]
    assert (ed.numerator, ed.denominator, ed.rate) == (3, 3, Decimal("1.000000"))


def test_the_specification_figure_is_the_rate_times_twelve_thousand() -> None:
    [admissions, _] = utilization_measures(PARAMS)
    assert admissions.multiplier == Decimal(12000)
    assert admissions.multiplier * Decimal(2) / Decimal(3) == Decimal(8000)


def test_elective_admissions_count_when_the_parameters_list_them() -> None:
    every = scored(params={**PARAMS, "unplanned_admission_types": ["emergency", "urgent", "elective"]})
    assert every["unplanned-admissions-per-1000-mm"].numerator == 3


def test_below_the_minimum_member_months_nothing_is_reported() -> None:
    ed = scored(params={**PARAMS, "minimum_member_months": 4})["ed-visits-per-1000-mm"]
    assert (ed.numerator, ed.denominator, ed.rate, ed.reported) == (3, 3, None, False)


def test_a_rate_too_large_for_the_published_contract_is_not_reported() -> None:
    many = [line(f"x{i}", 1, "m1", "outpatient", date(2026, 10, 1 + i % 28), ed=True) for i in range(3000)]
    ed = scored(lines=many)["ed-visits-per-1000-mm"]
    assert (ed.numerator, ed.denominator, ed.rate, ed.reported) == (3000, 3, None, False)
