"""The billing service over the real broker and Postgres: fees and enrolment spans in, month close
and invoices out.

Month closes are global (every organization's activity in the month), and a month cannot close
while an earlier month with activity is open. These tests therefore use months of their own in
2020, before anything the other tests touch, end every enrolment they open, and close every month
they touch, oldest first, so they never block another test's close.
"""

import asyncio
import uuid
from datetime import date
from decimal import Decimal
from typing import Any

import httpx

from hearth_billing.close import full_month
from hearth_billing.ledger import Span
from hearth_billing.periods import Month
from hearth_schemas import AssessmentCompleted, MemberDisenrolled, MemberEnrolled, TierChanged

from .stack import Stack

FEE = "hearth.billing.AssessmentFeeAccrued.v1"
ISSUED = "hearth.billing.InvoiceIssued.v1"
CLOSED = "hearth.billing.MonthClosed.v1"


def new_id(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


def assessed(member: str, org: str, on: date, assessment_id: str | None = None) -> AssessmentCompleted:
    return AssessmentCompleted(
        assessment_id=assessment_id or str(uuid.uuid4()),
        referral_id=str(uuid.uuid4()),
        member_id=member,
        provider_org_id=org,
        assessed_on=on,
        mode="in_person",
        decision="decline",
    )


def enrolled(member: str, org: str, tier: str, on: date, lob: str | None = None) -> MemberEnrolled:
    return MemberEnrolled(
        enrollment_id=f"E-{member}",
        member_id=member,
        provider_org_id=org,
        tier=tier,
        effective_date=on,
        consent_on=on,
        line_of_business=lob,
    )


def tier_changed(member: str, org: str, to_tier: str, on: date) -> TierChanged:
    return TierChanged(
        enrollment_id=f"E-{member}",
        member_id=member,
        provider_org_id=org,
        from_tier="moderate",
        to_tier=to_tier,
        effective_date=on,
    )


def disenrolled(member: str, org: str, on: date) -> MemberDisenrolled:
    return MemberDisenrolled(
        enrollment_id=f"E-{member}", member_id=member, provider_org_id=org, reason="death", effective_date=on
    )


async def ledger_when(
    http: httpx.AsyncClient, stack: Stack, member: str, ready: Any, timeout: float = 20
) -> dict[str, Any]:
    """The member's ledger once `ready(ledger)` holds (billing consumes asynchronously)."""
    for _ in range(int(timeout / 0.1)):
        ledger = (await http.get(f"{stack.url('billing')}/members/{member}/ledger")).json()
        if ready(ledger):
            return ledger
        await asyncio.sleep(0.1)
    raise AssertionError(f"billing's ledger of {member} never became ready: {ledger}")


def spans_of(ledger: dict[str, Any]) -> list[Span]:
    return [
        Span(
            s["enrollment_id"],
            s["provider_org_id"],
            s["tier"],
            s["line_of_business"],
            date.fromisoformat(s["from"]),
            date.fromisoformat(s["to"]) if s["to"] else None,
            tuple(s["source_event_ids"]),
        )
        for s in ledger["enrolment_spans"]
    ]


async def invoice_for(http: httpx.AsyncClient, stack: Stack, month: str, org: str) -> dict[str, Any]:
    listed = (
        await http.get(f"{stack.url('billing')}/invoices", params={"month": month, "provider_org_id": org})
    ).json()
    assert len(listed) == 1, listed
    return (await http.get(f"{stack.url('billing')}/invoices/{listed[0]['invoice_id']}")).json()


async def test_month_close_bills_full_months_and_fees_once_per_organization(stack: Stack, http):
    billing = stack.url("billing")
    org = new_id("org")
    stays, declines, short, late = (new_id("M") for _ in range(4))
    february, march, april = "2020-02", "2020-03", "2020-04"

    # the stayer: enrolled mid-February, a tier change on the 20th, disenrolled from 16 March
    fee = await stack.publish(assessed(stays, org, date(2020, 2, 3), assessment_id=f"A-{stays}"))
    await stack.publish(assessed(stays, org, date(2020, 2, 3), assessment_id=f"A-{stays}"))  # reported twice
    await stack.publish(enrolled(stays, org, "moderate", date(2020, 2, 10)))
    await stack.publish(tier_changed(stays, org, "high", date(2020, 2, 20)))
    await stack.publish(disenrolled(stays, org, date(2020, 3, 16)))
    # assessed, declined: the fee is owed all the same
    await stack.publish(assessed(declines, org, date(2020, 2, 7)))
    # enrolled on the last day of February only
    await stack.publish(enrolled(short, org, "moderate", date(2020, 2, 29), lob="medi_cal"))
    await stack.publish(disenrolled(short, org, date(2020, 3, 1)))

    accrued = await stack.wait_for_event("billing.events", lambda e: e.type == FEE and e.subject == stays)
    assert accrued.causation_id == fee.id and Decimal(accrued.data["amount"]) == Decimal("325.00")
    await stack.wait_for_event("billing.events", lambda e: e.type == FEE and e.subject == declines)
    stays_ledger = await ledger_when(
        http,
        stack,
        stays,
        lambda lg: [s["to"] for s in lg["enrolment_spans"]] == ["2020-02-19", "2020-03-15"],
    )
    assert len(stays_ledger["assessment_fees"]) == 1
    short_ledger = await ledger_when(
        http, stack, short, lambda lg: [s["to"] for s in lg["enrolment_spans"]] == ["2020-02-29"]
    )

    # March cannot close before February
    refused = await http.post(f"{billing}/months/{march}/close")
    assert refused.status_code == 409 and february in refused.json()["message"]

    closed = await http.post(f"{billing}/months/{february}/close")
    assert closed.status_code == 201, closed.text
    invoice = await invoice_for(http, stack, february, org)
    lines = sorted(
        (line["member_id"], line["kind"], line["tier"], line["amount"]) for line in invoice["lines"]
    )
    assert lines == sorted(
        [
            (stays, "pmpm", "high", "600.00"),  # the tier of the last enrolled day of the month
            (stays, "assessment_fee", None, "325.00"),
            (declines, "assessment_fee", None, "325.00"),
            (short, "pmpm", "moderate", "400.00"),  # one day pays the whole month
        ]
    )
    assert invoice["total_amount"] == "1650.00" and invoice["line_count"] == 4
    fee_line = next(
        line for line in invoice["lines"] if line["member_id"] == stays and line["kind"] == "assessment_fee"
    )
    assert fee_line["source_event_ids"] == [fee.id]

    # the set-based SQL agrees with the rule as written in Python
    for member, ledger in ((stays, stays_ledger), (short, short_ledger)):
        expected = full_month(member, spans_of(ledger), Month.parse(february))
        assert expected is not None
        line = next(ln for ln in invoice["lines"] if ln["member_id"] == member and ln["kind"] == "pmpm")
        assert (line["tier"], line["service_date"], tuple(line["source_event_ids"])) == (
            expected.tier,
            expected.anchor_day.isoformat(),
            expected.source_event_ids,
        )

    issued = await stack.wait_for_event(
        "billing.events", lambda e: e.type == ISSUED and e.data["provider_org_id"] == org
    )
    assert issued.data["invoice_id"] == invoice["invoice_id"] and issued.data["total_amount"] == "1650.00"
    month_closed = await stack.wait_for_event(
        "billing.events",
        lambda e: e.type == CLOSED and e.data["month"] == february and e.source == "/hearth/billing",
    )
    assert invoice["invoice_id"] in month_closed.data["invoice_ids"]
    assert month_closed.correlation_id == issued.correlation_id

    again = await http.post(f"{billing}/months/{february}/close")
    assert again.status_code == 200 and again.json() == closed.json()
    assert (await http.get(f"{billing}/months/{february}")).json()["status"] == "closed"

    # a fee for February that arrives after the close goes on the next invoice
    await stack.publish(assessed(late, org, date(2020, 2, 25)))
    await ledger_when(http, stack, late, lambda lg: len(lg["assessment_fees"]) == 1)
    assert (await http.post(f"{billing}/months/{march}/close")).status_code == 201
    march_lines = sorted(
        (ln["member_id"], ln["kind"], ln["service_date"], ln["amount"])
        for ln in (await invoice_for(http, stack, march, org))["lines"]
    )
    assert march_lines == sorted(
        [(stays, "pmpm", "2020-03-15", "600.00"), (late, "assessment_fee", "2020-02-25", "325.00")]
    )
    assert (await http.post(f"{billing}/months/{april}/close")).status_code == 201
    assert (
        await http.get(f"{billing}/invoices", params={"month": april, "provider_org_id": org})
    ).json() == []
    closed_feb = (await http.get(f"{billing}/invoices/{invoice['invoice_id']}")).json()
    assert closed_feb == invoice, "a closed invoice is never rewritten"


async def test_an_enrolment_at_a_tier_no_contract_prices_is_dead_lettered_with_the_reason(stack: Stack):
    member = new_id("M")
    await stack.publish(enrolled(member, new_id("org"), "platinum", date(2020, 2, 1)))
    dead = await stack.wait_for_records("billing.dlq", lambda r: r.key == member.encode())
    assert "tier 'platinum' is not priced by any contract" in dead[0].headers["hearth_dlq_reason"]


async def test_member_months_without_a_contract_refuse_the_close_naming_them(stack: Stack, http):
    billing = stack.url("billing")
    member, org = new_id("M"), new_id("org")
    # the default contract starts in 2020: a 2019 member-month has no rate
    await stack.publish(enrolled(member, org, "high", date(2019, 6, 10)))
    await ledger_when(http, stack, member, lambda lg: len(lg["enrolment_spans"]) == 1)
    try:
        refused = await http.post(f"{billing}/months/2019-06/close")
        assert refused.status_code == 409
        assert member in refused.json()["message"] and "no contract rate" in refused.json()["message"]
        assert (await http.get(f"{billing}/months/2019-06")).json()["status"] == "open"
    finally:
        # a disenrolment from the first day removes the span: no activity is left open in 2019
        await stack.publish(disenrolled(member, org, date(2019, 6, 10)))
        await ledger_when(http, stack, member, lambda lg: lg["enrolment_spans"] == [])
