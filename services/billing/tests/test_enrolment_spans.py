"""Enrolment spans: each change rewrites a member's timeline from its effective date onward."""

from datetime import date

from hearth_billing.ledger import Enrolment, Span


def enrolled(on: date = date(2026, 10, 5), tier: str = "moderate", org: str = "org-a") -> Enrolment:
    enrolment = Enrolment("M-1", [])
    enrolment.enrol(
        enrollment_id="E-1",
        provider_org_id=org,
        tier=tier,
        line_of_business="medi_cal",
        on=on,
        event_id="ev-enrol",
    )
    return enrolment


def periods(enrolment: Enrolment) -> list[tuple[str, str, date, date | None]]:
    return [(s.provider_org_id, s.tier, s.start, s.end) for s in enrolment.spans]


def test_enrolment_opens_a_span_that_records_its_event():
    enrolment = enrolled()
    assert enrolment.spans == [
        Span("E-1", "org-a", "moderate", "medi_cal", date(2026, 10, 5), None, ("ev-enrol",))
    ]
    assert enrolment.changed


def test_tier_change_splits_the_span_on_its_effective_date():
    enrolment = enrolled()
    enrolment.change_tier(enrollment_id="E-1", tier="high", on=date(2026, 10, 20), event_id="ev-tier")
    assert periods(enrolment) == [
        ("org-a", "moderate", date(2026, 10, 5), date(2026, 10, 19)),
        ("org-a", "high", date(2026, 10, 20), None),
    ]
    assert all(s.source_event_ids == ("ev-enrol", "ev-tier") for s in enrolment.spans)


def test_disenrolment_ends_the_span_the_day_before_its_effective_date():
    enrolment = enrolled()
    enrolment.disenrol(enrollment_id="E-1", on=date(2026, 11, 15), event_id="ev-dis")
    assert periods(enrolment) == [("org-a", "moderate", date(2026, 10, 5), date(2026, 11, 14))]
    assert enrolment.spans[0].source_event_ids == ("ev-enrol", "ev-dis")


def test_retroactive_disenrolment_removes_spans_that_start_after_it():
    enrolment = enrolled()
    enrolment.change_tier(enrollment_id="E-1", tier="high", on=date(2026, 11, 1), event_id="ev-tier")
    enrolment.disenrol(enrollment_id="E-1", on=date(2026, 10, 20), event_id="ev-dis")
    assert periods(enrolment) == [("org-a", "moderate", date(2026, 10, 5), date(2026, 10, 19))]


def test_disenrolment_on_the_first_day_leaves_no_span():
    enrolment = enrolled()
    enrolment.disenrol(enrollment_id="E-1", on=date(2026, 10, 5), event_id="ev-dis")
    assert enrolment.spans == []


def test_retroactive_tier_change_overrides_later_ones():
    enrolment = enrolled()
    enrolment.change_tier(enrollment_id="E-1", tier="high", on=date(2026, 11, 1), event_id="ev-1")
    enrolment.change_tier(enrollment_id="E-1", tier="moderate", on=date(2026, 10, 10), event_id="ev-2")
    assert [(s.tier, s.start, s.end) for s in enrolment.spans] == [
        ("moderate", date(2026, 10, 5), date(2026, 10, 9)),
        ("moderate", date(2026, 10, 10), date(2026, 10, 31)),
        ("moderate", date(2026, 11, 1), None),
    ]


def test_enrolment_with_another_organization_ends_the_previous_one():
    enrolment = enrolled()
    enrolment.enrol(
        enrollment_id="E-2",
        provider_org_id="org-b",
        tier="high",
        line_of_business=None,
        on=date(2026, 12, 1),
        event_id="ev-move",
    )
    assert periods(enrolment) == [
        ("org-a", "moderate", date(2026, 10, 5), date(2026, 11, 30)),
        ("org-b", "high", date(2026, 12, 1), None),
    ]


def test_changes_to_one_enrollment_leave_the_others_alone():
    enrolment = enrolled()
    enrolment.enrol(
        enrollment_id="E-2",
        provider_org_id="org-b",
        tier="high",
        line_of_business=None,
        on=date(2026, 12, 1),
        event_id="ev-move",
    )
    enrolment.disenrol(enrollment_id="E-1", on=date(2026, 12, 15), event_id="ev-late")
    enrolment.change_tier(enrollment_id="E-1", tier="high", on=date(2026, 12, 20), event_id="ev-late-tier")
    assert periods(enrolment)[1] == ("org-b", "high", date(2026, 12, 1), None)
    assert enrolment.knows("E-1") and enrolment.knows("E-2") and not enrolment.knows("E-3")
