"""The billing month: "YYYY-MM", refused with the field named when it is not a calendar month."""

import pytest

from hearth_billing.periods import Month
from hearth_platform.errors import Invalid


@pytest.mark.parametrize("text", ["2026-13", "2026-1", "26-01", "0000-01"])
def test_a_month_that_is_not_a_calendar_month_is_refused_naming_the_field(text: str):
    with pytest.raises(Invalid) as refused:
        Month.parse(text)
    assert refused.value.detail[0]["field"] == "month"


def test_a_month_has_its_first_and_last_day():
    february = Month.parse("2028-02")
    assert (str(february), february.first_day.isoformat(), february.last_day.isoformat()) == (
        "2028-02",
        "2028-02-01",
        "2028-02-29",
    )
