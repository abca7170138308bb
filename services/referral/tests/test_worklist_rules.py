"""The quarterback's queue rules: business days, deadlines and who gets a new referral."""

from datetime import date

from hearth_referral.domain import Status
from hearth_referral.worklist import Caseload, assign, load_worklist_rules, work_item

RULES = load_worklist_rules()


def test_first_contact_is_due_two_business_days_later_skipping_the_weekend():
    # Friday 2026-11-20 -> Monday 23, Tuesday 24.
    assert RULES.add_business_days(date(2026, 11, 20), 2) == date(2026, 11, 24)


def test_a_listed_holiday_is_not_a_business_day():
    # Wednesday 2026-11-25 -> Thanksgiving (26) skipped -> Friday 27, Monday 30.
    assert RULES.add_business_days(date(2026, 11, 25), 2) == date(2026, 11, 30)
    assert RULES.business_days_between(date(2026, 11, 25), date(2026, 11, 30)) == 2


def test_a_received_referral_past_its_contact_deadline_is_overdue_but_not_for_assessment():
    item = work_item(
        RULES,
        referral_id="r-1",
        member_id="M-1",
        source="aco",
        status=Status.RECEIVED,
        referral_date=date(2026, 11, 20),
        needs_goals_of_care=True,
        as_of=date(2026, 11, 25),
    )
    assert (item.age_days, item.age_business_days) == (5, 3)
    assert item.first_contact_overdue and not item.assessment_overdue
    assert item.assessment_due == date(2026, 12, 4)


def test_outreach_counts_as_first_contact_and_an_unassessed_referral_is_late_after_14_days():
    item = work_item(
        RULES,
        referral_id="r-1",
        member_id="M-1",
        source="ehr",
        status=Status.OUTREACH,
        referral_date=date(2026, 11, 20),
        needs_goals_of_care=False,
        as_of=date(2026, 12, 5),
    )
    assert not item.first_contact_overdue and item.assessment_overdue


def test_assignment_prefers_the_organization_then_the_lightest_caseload():
    loads = [Caseload("c-1", "org-a", 2), Caseload("c-2", "org-a", 0), Caseload("c-3", "org-b", 0)]
    chosen = assign(
        [("r-1", "org-a"), ("r-2", "org-a"), ("r-3", "org-a"), ("r-4", None), ("r-5", "org-z")], loads
    )
    # org-a: c-2 (0) -> c-2 (1) -> c-1 and c-2 both at 2, c-1 by id; then anyone: c-3 (0), c-3 (1)
    assert [chosen[f"r-{n}"].coordinator_id for n in range(1, 6)] == ["c-2", "c-2", "c-1", "c-3", "c-3"]
    assert chosen["r-1"].reason == "attributed organization org-a, lightest caseload (0 open)"
    assert chosen["r-5"].reason.startswith("no coordinator at org-z")


def test_nobody_is_assigned_before_a_coordinator_exists():
    assert assign([("r-1", "org-a")], []) == {}
