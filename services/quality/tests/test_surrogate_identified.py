"""The shipped measure `surrogate-identified` v1 on a hand-computed population.

October 2026. A member is in the denominator once the outcome is known by 31 October: the 30-day
window has closed (enrolled on or before 1 October), or a surrogate was already identified within
it by 31 October. Members who left within the window without a surrogate are excluded.

| org | member | enrolled   | ended      | surrogate assessments      | D | N | why                              |
|-----|--------|------------|------------|----------------------------|---|---|----------------------------------|
| A   | m1     | 2026-09-01 |            | yes 2026-08-25             | 1 | 1 | initial assessment before enrol  |
| A   | m2     | 2026-09-15 |            | yes 2026-10-15             | 1 | 1 | on the last day of the window    |
| A   | m3     | 2026-09-15 |            | yes 2026-10-16             | 1 | 0 | one day late                     |
| A   | m4     | 2026-10-10 |            | yes 2026-10-11             | 1 | 1 | window open, success known early |
| A   | m5     | 2026-08-01 | 2026-08-20 | yes 2026-08-02             | - | - | not enrolled in October          |
| A   | m6     | 2026-09-20 | 2026-10-05 | yes 2026-09-21             | 1 | 1 | left early, but surrogate found  |
| A   | m7     | 2026-07-01 | 2026-10-01 | yes 2026-07-02             | - | - | last day enrolled 30 September   |
| A   | m8     | 2026-09-01 |            | none                       | 1 | 0 |                                  |
| A   | m9     | 2026-09-01 |            | no (surrogate false) 09-05 | 1 | 0 |                                  |
| A   | m12    | 2026-08-01 | 2026-10-20 | yes 2026-08-10             | 1 | 1 | left after the window closed     |
| A   | m13    | 2026-09-20 | 2026-10-05 | none                       | 0 | 0 | left within the window: excluded |
| A   | m14    | 2026-10-10 |            | yes 2026-11-02             | 0 | 0 | success dated after the period   |
| A   | m15    | 2026-10-10 |            | none                       | 0 | 0 | window still open                |
| B   | m10    | 2026-10-20 |            | none                       | 0 | 0 | only member's window still open  |
| C   | m11    | 2026-01-01 |            | yes 2026-01-10             | 1 | 1 | long-standing member             |

A: 5 / 8 = 0.625000 reported; B: 0 / 0 not reported; C: 1 / 1 = 1.000000 reported.
"""

from collections.abc import Sequence
from dataclasses import replace
from datetime import date
from decimal import Decimal

from hearth_quality.domain import Assessment, Enrolment, Measure, MeasureScore, Period, Population, score
from hearth_quality.measures import CATALOGUE, SURROGATE_IDENTIFIED

OCTOBER = Period.month("2026-10")

ENROLMENTS = [
    Enrolment("e1", "m1", "org-a", date(2026, 9, 1)),
    Enrolment("e2", "m2", "org-a", date(2026, 9, 15)),
    Enrolment("e3", "m3", "org-a", date(2026, 9, 15)),
    Enrolment("e4", "m4", "org-a", date(2026, 10, 10)),
    Enrolment("e5", "m5", "org-a", date(2026, 8, 1), date(2026, 8, 20), "death"),
    Enrolment("e6", "m6", "org-a", date(2026, 9, 20), date(2026, 10, 5), "hospice_election"),
    Enrolment("e7", "m7", "org-a", date(2026, 7, 1), date(2026, 10, 1), "goals_met"),
    Enrolment("e8", "m8", "org-a", date(2026, 9, 1)),
    Enrolment("e9", "m9", "org-a", date(2026, 9, 1)),
    Enrolment("e12", "m12", "org-a", date(2026, 8, 1), date(2026, 10, 20), "death"),
    Enrolment("e13", "m13", "org-a", date(2026, 9, 20), date(2026, 10, 5), "hospice_election"),
    Enrolment("e14", "m14", "org-a", date(2026, 10, 10)),
    Enrolment("e15", "m15", "org-a", date(2026, 10, 10)),
    Enrolment("e10", "m10", "org-b", date(2026, 10, 20)),
    Enrolment("e11", "m11", "org-c", date(2026, 1, 1)),
]


def assessed(member: str, on: date, surrogate: bool = True) -> Assessment:
    return Assessment(f"a-{member}-{on}", member, "org-a", on, surrogate, "spouse" if surrogate else None)


ASSESSMENTS = [
    assessed("m1", date(2026, 8, 25)),
    assessed("m2", date(2026, 10, 15)),
    assessed("m3", date(2026, 10, 16)),
    assessed("m4", date(2026, 10, 11)),
    assessed("m5", date(2026, 8, 2)),
    assessed("m6", date(2026, 9, 21)),
    assessed("m7", date(2026, 7, 2)),
    assessed("m9", date(2026, 9, 5), surrogate=False),
    assessed("m12", date(2026, 8, 10)),
    assessed("m14", date(2026, 11, 2)),
    assessed("m11", date(2026, 1, 10)),
]


def scores(
    measure: Measure = SURROGATE_IDENTIFIED,
    enrolments: Sequence[Enrolment] = ENROLMENTS,
    assessments: Sequence[Assessment] = ASSESSMENTS,
) -> dict[str, MeasureScore]:
    return {r.provider_org_id: r for r in score(measure, Population.of(enrolments, assessments), OCTOBER)}


def test_declaration_is_surrogate_identified_version_1_in_the_catalogue() -> None:
    assert (SURROGATE_IDENTIFIED.measure_id, SURROGATE_IDENTIFIED.version) == ("surrogate-identified", "1")
    assert SURROGATE_IDENTIFIED in CATALOGUE
    assert SURROGATE_IDENTIFIED.minimum_denominator == 1


def test_hand_computed_population_numerator_denominator_and_rate() -> None:
    a = scores()["org-a"]
    assert (a.numerator, a.denominator, a.rate, a.reported) == (5, 8, Decimal("0.625000"), True)
    assert (a.measure_id, a.measure_version, a.period) == ("surrogate-identified", "1", "2026-10")


def test_organization_whose_members_are_all_inside_their_window_is_not_reported() -> None:
    b = scores()["org-b"]
    assert (b.numerator, b.denominator, b.rate, b.reported) == (0, 0, None, False)


def test_long_standing_member_stays_in_every_month_of_the_enrolment() -> None:
    c = scores()["org-c"]
    assert (c.numerator, c.denominator, c.rate, c.reported) == (1, 1, Decimal("1.000000"), True)


def test_every_organization_with_members_in_the_month_is_scored() -> None:
    assert sorted(scores()) == ["org-a", "org-b", "org-c"]


def test_minimum_denominator_suppresses_small_organizations() -> None:
    strict = replace(SURROGATE_IDENTIFIED, minimum_denominator=2)
    result = scores(strict)
    assert (result["org-a"].reported, result["org-a"].rate) == (True, Decimal("0.625000"))
    assert (result["org-c"].numerator, result["org-c"].denominator) == (1, 1)
    assert (result["org-c"].reported, result["org-c"].rate) == (False, None)


def test_window_end_is_enrolment_date_plus_thirty_days_inclusive() -> None:
    enrolled = [Enrolment("e", "m", "org-a", date(2026, 10, 1))]  # window closes 31 October
    on_time = scores(enrolments=enrolled, assessments=[assessed("m", date(2026, 10, 31))])["org-a"]
    assert (on_time.numerator, on_time.denominator) == (1, 1)
    late = scores(enrolments=enrolled, assessments=[assessed("m", date(2026, 11, 1))])["org-a"]
    assert (late.numerator, late.denominator) == (0, 1)


def test_member_without_a_surrogate_enters_the_denominator_when_the_window_closes() -> None:
    enrolled = [Enrolment("e", "m", "org-a", date(2026, 10, 2))]  # window closes 1 November
    october = scores(enrolments=enrolled, assessments=[])["org-a"]
    assert october.denominator == 0
    november = score(SURROGATE_IDENTIFIED, Population.of(enrolled), Period.month("2026-11"))[0]
    assert (november.numerator, november.denominator) == (0, 1)


def test_late_assessment_arriving_after_close_changes_a_recomputation() -> None:
    without = scores(enrolments=ENROLMENTS[7:8], assessments=[])["org-a"]  # m8 alone
    with_late = scores(enrolments=ENROLMENTS[7:8], assessments=[assessed("m8", date(2026, 9, 30))])["org-a"]
    assert (without.numerator, with_late.numerator) == (0, 1)


def test_member_who_left_within_the_window_counts_only_with_a_surrogate() -> None:
    # Enrolled 15 September: the window runs to 15 October inclusive.
    full_window = [Enrolment("e", "m", "org-a", date(2026, 9, 15), date(2026, 10, 16), "death")]
    assert scores(enrolments=full_window, assessments=[])["org-a"].denominator == 1
    short_window = [Enrolment("e", "m", "org-a", date(2026, 9, 15), date(2026, 10, 15), "death")]
    excluded = scores(enrolments=short_window, assessments=[])["org-a"]
    assert (excluded.numerator, excluded.denominator, excluded.reported) == (0, 0, False)
    assert excluded.exclusions == 1
    found = scores(enrolments=short_window, assessments=[assessed("m", date(2026, 9, 16))])["org-a"]
    assert (found.numerator, found.denominator) == (1, 1)


def test_success_inside_an_open_window_counts_in_the_month_it_is_dated() -> None:
    enrolled = [Enrolment("e", "m", "org-a", date(2026, 10, 20))]  # window closes 19 November
    in_october = scores(enrolments=enrolled, assessments=[assessed("m", date(2026, 10, 25))])["org-a"]
    assert (in_october.numerator, in_october.denominator) == (1, 1)
    dated_november = [assessed("m", date(2026, 11, 3))]
    october = scores(enrolments=enrolled, assessments=dated_november)["org-a"]
    assert (october.numerator, october.denominator) == (0, 0)
    november = score(SURROGATE_IDENTIFIED, Population.of(enrolled, dated_november), Period.month("2026-11"))[
        0
    ]
    assert (november.numerator, november.denominator) == (1, 1)
