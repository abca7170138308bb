"""The full-month rule: enrolled on any day of the month pays one whole month, at the
organization and tier in force on the member's last enrolled day of the month."""

from datetime import date

import pytest

from hearth_billing.close import full_month
from hearth_billing.ledger import Enrolment, Span
from hearth_billing.periods import Month

OCT = Month(2026, 10)


def span(start: date, end: date | None, tier: str = "moderate", org: str = "org-a") -> Span:
    return Span("E-1", org, tier, "medi_cal", start, end, (f"ev-{start.isoformat()}",))


def test_one_enrolled_day_pays_the_whole_month():
    for start, end in [
        (date(2026, 10, 31), None),  # enrolled on the last day
        (date(2026, 9, 1), date(2026, 10, 1)),  # disenrolled after the first day
        (date(2026, 10, 15), date(2026, 10, 15)),  # a single day
    ]:
        month = full_month("M-1", [span(start, end)], OCT)
        assert month is not None and month.tier == "moderate"


def test_no_enrolled_day_no_member_month():
    assert full_month("M-1", [span(date(2026, 11, 1), None)], OCT) is None
    assert full_month("M-1", [span(date(2026, 8, 1), date(2026, 9, 30))], OCT) is None
    assert full_month("M-1", [], OCT) is None


def test_a_member_enrolled_through_the_month_is_billed_on_its_last_day():
    month = full_month("M-1", [span(date(2026, 1, 1), None)], OCT)
    assert month is not None
    assert (month.anchor_day, month.provider_org_id, month.source_event_ids) == (
        date(2026, 10, 31),
        "org-a",
        ("ev-2026-01-01",),
    )


def test_a_mid_month_tier_change_pays_the_tier_of_the_last_enrolled_day():
    enrolment = Enrolment("M-1", [])
    enrolment.enrol(
        enrollment_id="E-1",
        provider_org_id="org-a",
        tier="moderate",
        line_of_business=None,
        on=date(2026, 10, 5),
        event_id="ev-enrol",
    )
    enrolment.change_tier(enrollment_id="E-1", tier="high", on=date(2026, 10, 20), event_id="ev-tier")
    month = full_month("M-1", enrolment.spans, OCT)
    assert month is not None and (month.tier, month.anchor_day) == ("high", date(2026, 10, 31))
    # ... also when the member leaves after the change: the last enrolled day is still "high"
    enrolment.disenrol(enrollment_id="E-1", on=date(2026, 10, 25), event_id="ev-dis")
    month = full_month("M-1", enrolment.spans, OCT)
    assert month is not None and (month.tier, month.anchor_day) == ("high", date(2026, 10, 24))
    assert month.source_event_ids == ("ev-enrol", "ev-tier", "ev-dis")


def test_a_step_down_on_the_last_day_pays_the_lower_tier():
    spans = [span(date(2026, 10, 1), date(2026, 10, 30), "high"), span(date(2026, 10, 31), None, "moderate")]
    month = full_month("M-1", spans, OCT)
    assert month is not None and month.tier == "moderate"


def test_a_move_between_organizations_pays_the_organization_the_month_ends_with_once():
    spans = [
        span(date(2026, 9, 1), date(2026, 10, 9), org="org-a"),
        span(date(2026, 10, 10), None, org="org-b", tier="high"),
    ]
    month = full_month("M-1", spans, OCT)
    assert month is not None and (month.provider_org_id, month.tier) == ("org-b", "high")
    september = full_month("M-1", spans, Month(2026, 9))
    assert september is not None and september.provider_org_id == "org-a"


@pytest.mark.parametrize(
    ("text", "first", "last"),
    [
        ("2026-02", date(2026, 2, 1), date(2026, 2, 28)),
        ("2028-02", date(2028, 2, 1), date(2028, 2, 29)),
        ("2026-12", date(2026, 12, 1), date(2026, 12, 31)),
    ],
)
def test_months_know_their_days(text: str, first: date, last: date):
    month = Month.parse(text)
    assert (month.first_day, month.last_day, str(month)) == (first, last, text)
    assert Month.of(last) == month and Month.of(first) == month


def test_a_month_not_written_yyyy_mm_is_invalid():
    from hearth_platform.errors import Invalid

    for bad in ("2026-13", "2026-1", "26-10", "2026-10-01"):
        with pytest.raises(Invalid):
            Month.parse(bad)
