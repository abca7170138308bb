"""Referral to assessment, visit reporting timeliness and assessment completeness, October 2026.

Referrals (window 14 days; a referral counts in the month its window ends):
| referral | date  | window ends | assessed            | org     | counts?                        |
|----------|-------|-------------|---------------------|---------|--------------------------------|
| r1       | 09-20 | 10-04       | 10-01 by A          | A       | numerator                      |
| r2       | 10-01 | 10-15       | 10-16 by A          | A       | denominator only (a day late)  |
| r3       | 10-10 | 10-24       | never (sent to A)   | A       | denominator only               |
| r4       | 10-05 | 10-19       | never, died 10-12   | A       | excluded                       |
| r5       | 10-20 | 11-03       |                     |         | no: November                   |
| r6       | 10-02 | 10-16       | never, no org       |         | no: cannot be attributed       |
| r7       | 09-10 | 09-24       |                     |         | no: September                  |
| r8       | 10-03 | 10-17       | 10-10 by B          | B       | numerator                      |
A: 1 / 3 = 0.333333; B: 1 / 1.

Visits of m1 with A (within 7 days): 10-01 received 10-08 (on time), 10-02 received 10-10 (late),
10-20 received 10-20 (on time); one by B and one dated 09-30 do not count: 2 / 3.

Required findings (primary_condition, pps, esas_total) in the latest assessment up to 10-31:
m1 complete on 10-05; m2 complete on 09-01 but its latest (10-10) lacks esas_total; m3 never
assessed; m4 has only pps on 10-01 (its complete assessment is dated 11-02): 1 / 4 = 0.25.
"""

from datetime import date
from decimal import Decimal

from hearth_quality.domain import Assessment, Enrolment, Period, Population
from hearth_quality.facts import ClaimLine, Referral, Visit
from hearth_quality.measures import PARAMETERS
from hearth_quality.measures_access import (
    assessment_after_referral,
    assessment_fields_complete,
    visits_reported_on_time,
)

OCTOBER = Period.month("2026-10")
COMPLETE = frozenset({"primary_condition", "pps", "esas_total", "age_years"})


def assessed(member: str, org: str, on: date, referral: str | None = None, fields=COMPLETE) -> Assessment:
    return Assessment(f"a-{member}-{on}", member, org, on, False, referral_id=referral, present_fields=fields)


REFERRALS = [
    Referral("r1", "m1", date(2026, 9, 20)),
    Referral("r2", "m2", date(2026, 10, 1), "org-a"),
    Referral("r3", "m3", date(2026, 10, 10), "org-a"),
    Referral("r4", "m4", date(2026, 10, 5), "org-a"),
    Referral("r5", "m5", date(2026, 10, 20), "org-a"),
    Referral("r6", "m6", date(2026, 10, 2)),
    Referral("r7", "m7", date(2026, 9, 10), "org-a"),
    Referral("r8", "m8", date(2026, 10, 3)),
]
REFERRAL_ASSESSMENTS = [
    assessed("m1", "org-a", date(2026, 10, 1), "r1"),
    assessed("m2", "org-a", date(2026, 10, 16), "r2"),
    assessed("m8", "org-b", date(2026, 10, 10), "r8"),
]
DEATH = ClaimLine("c4", 1, "m4", "inpatient", date(2026, 10, 11), date(2026, 10, 12), discharge_status="20")
ENROLLED = [Enrolment(f"e{n}", f"m{n}", "org-a", date(2026, 9, 1)) for n in (1, 2, 3, 4)]


def referral_scores(params=PARAMETERS["assessment_after_referral"]) -> dict:
    population = Population.of(ENROLLED, REFERRAL_ASSESSMENTS, claim_lines=[DEATH], referrals=REFERRALS)
    return {s.provider_org_id: s for s in assessment_after_referral(params).score(population, OCTOBER)}


def test_referrals_whose_window_ends_in_the_month_with_a_death_excluded() -> None:
    scores = referral_scores()
    a, b = scores["org-a"], scores["org-b"]
    assert (a.measure_id, a.numerator, a.denominator, a.rate) == (
        "assessment-within-14-days-of-referral",
        1,
        3,
        Decimal("0.333333"),
    )
    assert (b.numerator, b.denominator, b.rate, b.reported) == (1, 1, Decimal("1.000000"), True)
    assert (a.exclusions, b.exclusions) == (1, 0)


def test_an_organization_below_the_minimum_referrals_is_not_reported() -> None:
    b = referral_scores(PARAMETERS["assessment_after_referral"] | {"minimum_referrals": 2})["org-b"]
    assert (b.numerator, b.denominator, b.rate, b.reported) == (1, 1, None, False)


def visit(n: int, org: str, on: date, received: date) -> Visit:
    return Visit(f"v{n}", "m1", org, on, "rn", "in_person", 30, received)


VISITS = [
    visit(1, "org-a", date(2026, 10, 1), date(2026, 10, 8)),
    visit(2, "org-a", date(2026, 10, 2), date(2026, 10, 10)),
    visit(3, "org-a", date(2026, 10, 20), date(2026, 10, 20)),
    visit(4, "org-b", date(2026, 10, 3), date(2026, 10, 3)),
    visit(5, "org-a", date(2026, 9, 30), date(2026, 10, 1)),
]


def test_share_of_visits_reported_within_seven_days() -> None:
    measure = visits_reported_on_time(PARAMETERS["data_quality"])
    [a] = measure.score(Population.of(ENROLLED[:1], visits=VISITS), OCTOBER)
    assert (measure.measure_id, a.numerator, a.denominator, a.rate) == (
        "visits-reported-within-7-days",
        2,
        3,
        Decimal("0.666667"),
    )
    strict = visits_reported_on_time(PARAMETERS["data_quality"] | {"minimum_visits": 4})
    [suppressed] = strict.score(Population.of(ENROLLED[:1], visits=VISITS), OCTOBER)
    assert (suppressed.denominator, suppressed.reported, suppressed.rate) == (3, False, None)


def test_share_of_members_whose_latest_assessment_has_every_required_finding() -> None:
    assessments = [
        assessed("m1", "org-a", date(2026, 9, 2), fields=frozenset()),
        assessed("m1", "org-a", date(2026, 10, 5)),
        assessed("m2", "org-a", date(2026, 9, 1)),
        assessed("m2", "org-a", date(2026, 10, 10), fields=frozenset({"primary_condition", "pps"})),
        assessed("m4", "org-a", date(2026, 10, 1), fields=frozenset({"pps"})),
        assessed("m4", "org-a", date(2026, 11, 2)),
    ]
    measure = assessment_fields_complete(PARAMETERS["data_quality"])
    [a] = measure.score(Population.of(ENROLLED, assessments), OCTOBER)
    assert (a.numerator, a.denominator, a.rate) == (1, 4, Decimal("0.250000"))
