"""`advance-care-plan-documented`, October 2026: an advance directive on file or goals of care
documented within 30 days of enrolment (the same window rule as `surrogate-identified`).

| org | member | enrolled   | ended      | assessments                         | D | N |
|-----|--------|------------|------------|-------------------------------------|---|---|
| A   | m1     | 2026-09-01 |            | advance directive 2026-08-28        | 1 | 1 |
| A   | m2     | 2026-09-01 |            | goals of care 2026-09-20            | 1 | 1 |
| A   | m3     | 2026-09-01 |            | surrogate only 2026-09-05           | 1 | 0 |
| A   | m4     | 2026-09-01 |            | goals of care 2026-10-05 (late)     | 1 | 0 |
| A   | m5     | 2026-10-15 | 2026-10-20 | none (died in the window: excluded) | 0 | 0 |
| A   | m6     | 2026-10-20 |            | none (window still open)            | 0 | 0 |

A: 2 / 4 = 0.500000.
"""

from dataclasses import replace
from datetime import date
from decimal import Decimal

from hearth_quality.domain import Assessment, Enrolment, Period, Population, score
from hearth_quality.measures import ADVANCE_CARE_PLAN, CATALOGUE

OCTOBER = Period.month("2026-10")
ENROLMENTS = [
    *(Enrolment(f"e{i}", f"m{i}", "org-a", date(2026, 9, 1)) for i in range(1, 5)),
    Enrolment("e5", "m5", "org-a", date(2026, 10, 15), date(2026, 10, 20), "death"),
    Enrolment("e6", "m6", "org-a", date(2026, 10, 20)),
]


def assessed(member: str, on: date, **found: bool) -> Assessment:
    return Assessment(f"a-{member}-{on}", member, "org-a", on, surrogate_identified=False, **found)


ASSESSMENTS = [
    assessed("m1", date(2026, 8, 28), advance_directive_on_file=True),
    assessed("m2", date(2026, 9, 20), goals_of_care_documented=True),
    replace(assessed("m3", date(2026, 9, 5)), surrogate_identified=True),
    assessed("m4", date(2026, 10, 5), goals_of_care_documented=True),
]


def test_declared_in_the_catalogue_with_its_version() -> None:
    assert ADVANCE_CARE_PLAN in CATALOGUE
    assert (ADVANCE_CARE_PLAN.measure_id, ADVANCE_CARE_PLAN.version) == ("advance-care-plan-documented", "1")


def test_hand_computed_numerator_denominator_and_rate() -> None:
    [a] = score(ADVANCE_CARE_PLAN, Population.of(ENROLMENTS, ASSESSMENTS), OCTOBER)
    assert (a.numerator, a.denominator, a.rate, a.reported) == (2, 4, Decimal("0.500000"), True)


def test_a_member_who_died_within_the_window_undocumented_is_excluded_but_documented_counts() -> None:
    documented = [*ASSESSMENTS, assessed("m5", date(2026, 10, 16), advance_directive_on_file=True)]
    [a] = score(ADVANCE_CARE_PLAN, Population.of(ENROLMENTS, documented), OCTOBER)
    assert (a.numerator, a.denominator) == (3, 5)


def test_below_the_minimum_denominator_the_rate_is_suppressed() -> None:
    strict = replace(ADVANCE_CARE_PLAN, minimum_denominator=5)
    [a] = score(strict, Population.of(ENROLMENTS, ASSESSMENTS), OCTOBER)
    assert (a.numerator, a.denominator, a.rate, a.reported) == (2, 4, None, False)
