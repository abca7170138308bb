"""A reported visit or survey is refused, naming the field, unless the member was enrolled with
the organization on its date and the date is not in the future."""

from datetime import date

import pytest

from hearth_quality.domain import Enrolment
from hearth_quality.intake import ReportRefused, check_reported_on

TODAY = date(2026, 11, 20)
ENROLLED = [Enrolment("e1", "m", "org-a", date(2026, 9, 1), date(2026, 10, 1), "goals_met")]
CAME_BACK = [*ENROLLED, Enrolment("e2", "m", "org-a", date(2026, 11, 1))]


def refused_field(on: date, enrolments: list[Enrolment]) -> str:
    with pytest.raises(ReportRefused) as err:
        check_reported_on("visit_date", on, enrolments, TODAY)
    assert err.value.status_code == 422
    return err.value.detail[0]["field"]


def test_a_date_inside_an_enrolment_is_accepted() -> None:
    check_reported_on("visit_date", date(2026, 9, 1), ENROLLED, TODAY)
    check_reported_on("visit_date", date(2026, 9, 30), ENROLLED, TODAY)
    check_reported_on("visit_date", TODAY, CAME_BACK, TODAY)


def test_a_member_never_enrolled_with_the_organization_is_refused_on_member_id() -> None:
    assert refused_field(date(2026, 10, 5), []) == "member_id"


def test_a_voided_enrolment_does_not_make_the_member_known() -> None:
    voided = [Enrolment("e", "m", "org-a", date(2026, 10, 5), date(2026, 10, 5), "error")]
    assert refused_field(date(2026, 10, 5), voided) == "member_id"


def test_a_date_before_enrolment_is_refused_on_the_date() -> None:
    assert refused_field(date(2026, 8, 31), ENROLLED) == "visit_date"


def test_a_date_after_disenrolment_or_between_enrolments_is_refused() -> None:
    assert refused_field(date(2026, 10, 1), ENROLLED) == "visit_date"
    assert refused_field(date(2026, 10, 15), CAME_BACK) == "visit_date"


def test_a_future_date_is_refused_even_for_an_enrolled_member() -> None:
    assert refused_field(date(2026, 11, 21), CAME_BACK) == "visit_date"
