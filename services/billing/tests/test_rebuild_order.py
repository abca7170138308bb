"""The order in which a rebuild replays the log: facts where billing met them, closes where they
were recorded, so consumer lag across a close is reproduced."""

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

from hearth_billing.rebuild import RecordedClose, RecordedDme, timeline
from hearth_platform.cloudevents import Envelope, new_envelope
from hearth_schemas import (
    AdjustmentPosted,
    AssessmentCompleted,
    AssessmentFeeAccrued,
    DmeRequestDecided,
    InvoiceIssued,
    MemberDisenrolled,
    MonthClosed,
)
from hearth_schemas.base import Event

T0 = datetime(2026, 11, 1, 9, 0, tzinfo=UTC)
BILLING = "/hearth/billing"


def at(minutes: int) -> datetime:
    return T0 + timedelta(minutes=minutes)


def envelope(event: Event, minutes: int, source: str = "/test", **kwargs: Any) -> Envelope:
    return new_envelope(event, source=source, time=at(minutes), **kwargs)


def assessment(assessment_id: str) -> AssessmentCompleted:
    return AssessmentCompleted(
        assessment_id=assessment_id,
        referral_id="R-1",
        member_id="M-1",
        provider_org_id="org-a",
        assessed_on=date(2026, 10, 20),
        mode="in_person",
        decision="decline",
    )


def close(month: str, minutes: int, invoice_id: str) -> list[Envelope]:
    issued = InvoiceIssued(
        invoice_id=invoice_id,
        month=month,
        provider_org_id="org-a",
        total_amount=Decimal("1.00"),
        line_count=1,
    )
    closed = MonthClosed(
        month=month,
        closed_at=at(minutes),
        invoice_ids=[invoice_id],
        total_amount=Decimal("1.00"),
        member_months=1,
    )
    return [envelope(issued, minutes, BILLING), envelope(closed, minutes, BILLING)]


def labels(steps: list[Any]) -> list[str]:
    return [
        s.month
        if isinstance(s, RecordedClose)
        else "dme:" + s.decided.request_id
        if isinstance(s, RecordedDme)
        else s.event.subject() + ":" + s.envelope.id
        for s in steps
    ]


def dme_decided(request_id: str, minutes: int) -> Envelope:
    decided = DmeRequestDecided(
        request_id=request_id,
        member_id="M-1",
        provider_org_id="org-a",
        hcpcs_code="E1390",
        service_date=date(2026, 10, 12),
        requested_amount=Decimal("1800.00"),
        status="approved",
        handling="pass_through",
        reason="E1390 passes through contract dme v1 up to 1500.00: billed 1500.00 of 1800.00 (capped)",
        billed_amount=Decimal("1500.00"),
        contract_id="dme",
        contract_version=1,
        requested_at=at(minutes),
    )
    # the relay publishes a little after the request was decided: its time is not the order
    return envelope(decided, minutes + 30, BILLING)


def test_facts_and_closes_are_ordered_by_time_with_the_recorded_invoice_ids():
    early = envelope(assessment("A-1"), 1)
    late = envelope(assessment("A-2"), 20)
    planned = timeline([late, *close("2026-10", 10, "INV-1"), early, early])
    assert labels(planned.steps) == [f"M-1:{early.id}", "2026-10", f"M-1:{late.id}"]
    assert planned.steps[1] == RecordedClose("2026-10", at(10), {"org-a": "INV-1"})
    assert planned.duplicates == 1


def test_an_assessment_is_placed_where_billing_accrued_its_fee():
    # happened before the close, reached billing after it (consumer lag): billed by the next close
    lagging = envelope(assessment("A-1"), 5)
    fee = AssessmentFeeAccrued(
        accrual_id="F-1",
        member_id="M-1",
        provider_org_id="org-a",
        assessment_id="A-1",
        service_date=date(2026, 10, 20),
        amount=Decimal("325.00"),
        contract_id="default",
    )
    accrued = envelope(fee, 12, BILLING, causation_id=lagging.id)
    planned = timeline([*close("2026-10", 10, "INV-1"), lagging, accrued])
    assert labels(planned.steps) == ["2026-10", f"M-1:{lagging.id}"]


def test_a_change_an_adjustment_names_comes_after_the_close_before_the_posting_close():
    change = envelope(
        MemberDisenrolled(
            enrollment_id="E-1",
            member_id="M-1",
            provider_org_id="org-a",
            reason="death",
            effective_date=date(2026, 10, 1),
        ),
        5,
    )
    posted = AdjustmentPosted(
        adjustment_id="ADJ-1",
        member_id="M-1",
        provider_org_id="org-a",
        adjusted_month="2026-10",
        posted_month="2026-11",
        amount=Decimal("-400.00"),
        reason="retro_disenrolment",
        cause_event_ids=[change.id],
    )
    log = [
        *close("2026-10", 10, "INV-1"),
        *close("2026-11", 30, "INV-2"),
        envelope(posted, 30, BILLING),
        change,
    ]
    assert labels(timeline(log).steps) == ["2026-10", f"M-1:{change.id}", "2026-11"]


def test_a_dme_decision_is_replayed_where_it_was_requested_not_where_it_was_published():
    fact = envelope(assessment("A-1"), 1)
    planned = timeline([fact, *close("2026-10", 10, "INV-1"), dme_decided("D-2", 12), dme_decided("D-1", 5)])
    assert labels(planned.steps) == [f"M-1:{fact.id}", "dme:D-1", "2026-10", "dme:D-2"]
