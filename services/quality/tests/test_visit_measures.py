"""`visits-per-member-month-<discipline>` and `telehealth-share`, October 2026.

Organization A has three members in October (m1, m2; m3 enrolled twice: left 10 October, back
20 October, still one member-month). Visits counted: in October, by organization A, on a day the
member was enrolled there.

| member | date       | discipline | mode      | counts?                            |
|--------|------------|------------|-----------|------------------------------------|
| m1     | 2026-10-02 | rn         | in_person | yes                                |
| m1     | 2026-10-09 | rn         | video     | yes                                |
| m1     | 2026-10-16 | chaplain   | phone     | yes                                |
| m2     | 2026-10-05 | rn         | in_person | yes                                |
| m2     | 2026-09-30 | rn         | in_person | no: September                      |
| m3     | 2026-10-05 | social_worker | video  | yes                                |
| m3     | 2026-10-15 | rn         | in_person | no: between the two enrolments     |
| m3     | 2026-10-25 | rn         | phone     | yes                                |
| m2     | 2026-10-06 | rn         | in_person | no: reported by organization B     |

rn 4 / 3 member-months = 1.333333; social_worker 1/3; chaplain 1/3; physician 0/3;
telehealth (video, phone) 4 of 6 visits = 0.666667.
"""

from datetime import date
from decimal import Decimal

from hearth_quality.domain import Enrolment, MeasureScore, Period, Population
from hearth_quality.facts import Visit
from hearth_quality.measures import PARAMETERS
from hearth_quality.measures_visits import visit_measures

OCTOBER = Period.month("2026-10")
PARAMS = PARAMETERS["visits"]

ENROLMENTS = [
    Enrolment("e1", "m1", "org-a", date(2026, 8, 1)),
    Enrolment("e2", "m2", "org-a", date(2026, 9, 1)),
    Enrolment("e3", "m3", "org-a", date(2026, 9, 1), date(2026, 10, 10), "goals_met"),
    Enrolment("e3b", "m3", "org-a", date(2026, 10, 20)),
]


def visit(member: str, on: date, discipline: str, mode: str, org: str = "org-a") -> Visit:
    return Visit(f"v-{member}-{on}-{org}", member, org, on, discipline, mode, 45)


VISITS = [
    visit("m1", date(2026, 10, 2), "rn", "in_person"),
    visit("m1", date(2026, 10, 9), "rn", "video"),
    visit("m1", date(2026, 10, 16), "chaplain", "phone"),
    visit("m2", date(2026, 10, 5), "rn", "in_person"),
    visit("m2", date(2026, 9, 30), "rn", "in_person"),
    visit("m3", date(2026, 10, 5), "social_worker", "video"),
    visit("m3", date(2026, 10, 15), "rn", "in_person"),
    visit("m3", date(2026, 10, 25), "rn", "phone"),
    visit("m2", date(2026, 10, 6), "rn", "in_person", org="org-b"),
]


def scored(params=PARAMS, visits=VISITS) -> dict[str, MeasureScore]:
    population = Population.of(ENROLMENTS, visits=visits)
    return {m.measure_id: m.score(population, OCTOBER)[0] for m in visit_measures(params)}


def test_one_measure_per_discipline_and_the_telehealth_share() -> None:
    assert sorted(scored()) == sorted(
        [f"visits-per-member-month-{d.replace('_', '-')}" for d in PARAMS["disciplines"]]
        + ["telehealth-share"]
    )


def test_hand_computed_visits_per_member_month_by_discipline() -> None:
    results = {k: (s.numerator, s.denominator, s.rate) for k, s in scored().items()}
    assert results["visits-per-member-month-rn"] == (4, 3, Decimal("1.333333"))
    assert results["visits-per-member-month-social-worker"] == (1, 3, Decimal("0.333333"))
    assert results["visits-per-member-month-chaplain"] == (1, 3, Decimal("0.333333"))
    assert results["visits-per-member-month-physician"] == (0, 3, Decimal("0.000000"))


def test_hand_computed_telehealth_share_of_all_visits() -> None:
    share = scored()["telehealth-share"]
    assert (share.numerator, share.denominator, share.rate, share.reported) == (
        4,
        6,
        Decimal("0.666667"),
        True,
    )


def test_below_the_minimum_member_months_the_rate_is_not_reported() -> None:
    rn = scored(params={**PARAMS, "minimum_member_months": 4})["visits-per-member-month-rn"]
    assert (rn.numerator, rn.denominator, rn.rate, rn.reported) == (4, 3, None, False)


def test_an_organization_without_visits_has_no_telehealth_share() -> None:
    share = scored(visits=[])["telehealth-share"]
    assert (share.numerator, share.denominator, share.rate, share.reported) == (0, 0, None, False)
