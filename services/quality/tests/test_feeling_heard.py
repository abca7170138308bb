"""`fhu-top-box-<item>` on a hand-computed population, October 2026, organization A.

| member | survey     | proxy | heard | best | person | matters | counts?                        |
|--------|------------|-------|-------|------|--------|---------|--------------------------------|
| m1     | 2026-10-03 | no    | 5     | 5    | 4      | 5       | yes                            |
| m1     | 2026-10-20 | no    | 5     | 3    | 5      | 5       | yes (every survey counts)      |
| m2     | 2026-10-10 | no    | 4     | 5    | 5      | 1       | yes                            |
| m3     | 2026-10-11 | no    | 5     | 5    | 5      | 5       | yes                            |
| m4     | 2026-10-12 | no    | 2     | 5    | 5      | 5       | yes                            |
| m5     | 2026-10-13 | yes   | 5     | 5    | 5      | 5       | no: proxy answers are excluded |
| m6     | 2026-09-30 | no    | 5     | 5    | 5      | 5       | no: dated in September         |
| m7     | 2026-10-14 | no    | 5     | 5    | 5      | 5       | no: survey about organization B |

Five surveys count. Top box (5): heard 3/5 = 0.6, best 4/5, person 4/5, matters 4/5 = 0.8.
"""

from dataclasses import replace
from datetime import date
from decimal import Decimal

from hearth_quality.domain import Enrolment, MeasureScore, Period, Population
from hearth_quality.facts import FHU_ITEMS, Survey
from hearth_quality.measures import PARAMETERS
from hearth_quality.measures_experience import feeling_heard_measures, top_box_share

OCTOBER = Period.month("2026-10")
PARAMS = PARAMETERS["feeling_heard"]


def survey(
    member: str, on: date, answers: tuple[int, int, int, int], proxy: bool = False, org: str = "org-a"
):
    return Survey(
        f"s-{member}-{on}", member, org, on, "mail", proxy, dict(zip(FHU_ITEMS, answers, strict=True))
    )


ENROLMENTS = [Enrolment(f"e{i}", f"m{i}", "org-a", date(2026, 9, 1)) for i in range(1, 8)]
SURVEYS = [
    survey("m1", date(2026, 10, 3), (5, 5, 4, 5)),
    survey("m1", date(2026, 10, 20), (5, 3, 5, 5)),
    survey("m2", date(2026, 10, 10), (4, 5, 5, 1)),
    survey("m3", date(2026, 10, 11), (5, 5, 5, 5)),
    survey("m4", date(2026, 10, 12), (2, 5, 5, 5)),
    survey("m5", date(2026, 10, 13), (5, 5, 5, 5), proxy=True),
    survey("m6", date(2026, 9, 30), (5, 5, 5, 5)),
    survey("m7", date(2026, 10, 14), (5, 5, 5, 5), org="org-b"),
]


def scored(params=PARAMS, surveys=SURVEYS) -> dict[str, MeasureScore]:
    population = Population.of(ENROLMENTS, surveys=surveys)
    return {m.measure_id: m.score(population, OCTOBER)[0] for m in feeling_heard_measures(params)}


def test_one_measure_per_item_named_after_it() -> None:
    assert sorted(scored()) == [
        "fhu-top-box-best-interests-first",
        "fhu-top-box-heard-and-understood",
        "fhu-top-box-seen-as-person",
        "fhu-top-box-understood-what-matters",
    ]


def test_hand_computed_top_box_shares_per_item() -> None:
    results = {k: (s.numerator, s.denominator, s.rate, s.reported) for k, s in scored().items()}
    assert results == {
        "fhu-top-box-heard-and-understood": (3, 5, Decimal("0.600000"), True),
        "fhu-top-box-best-interests-first": (4, 5, Decimal("0.800000"), True),
        "fhu-top-box-seen-as-person": (4, 5, Decimal("0.800000"), True),
        "fhu-top-box-understood-what-matters": (4, 5, Decimal("0.800000"), True),
    }


def test_below_the_minimum_survey_count_the_share_is_not_reported() -> None:
    four = scored(surveys=SURVEYS[1:])["fhu-top-box-heard-and-understood"]
    assert (four.numerator, four.denominator, four.rate, four.reported) == (2, 4, None, False)


def test_proxy_answers_count_when_the_parameters_say_so() -> None:
    with_proxies = scored(params={**PARAMS, "count_proxy_answers": True})["fhu-top-box-heard-and-understood"]
    assert (with_proxies.numerator, with_proxies.denominator) == (4, 6)


def test_a_survey_dated_outside_the_members_enrolment_is_not_counted() -> None:
    left = [replace(ENROLMENTS[0], ended_on=date(2026, 10, 10)), *ENROLMENTS[1:]]
    population = Population.of(left, surveys=SURVEYS)
    result = top_box_share("heard_and_understood", PARAMS).score(population, OCTOBER)[0]
    assert (result.numerator, result.denominator) == (2, 4)  # m1's survey of 20 October is out
