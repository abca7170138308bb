"""A late change to a closed month over the real broker: a retroactive disenrolment after the
month closed is reversed on the next invoice, with `AdjustmentPosted` on billing.events.

Month closes are global; like test_billing.py this test uses months of its own (2021), before
anything other tests close, and leaves no enrolment open behind it.
"""

from datetime import date
from decimal import Decimal

from .stack import Stack
from .test_billing import disenrolled, enrolled, invoice_for, ledger_when, new_id

POSTED = "hearth.billing.AdjustmentPosted.v1"


async def test_retro_disenrolment_after_close_posts_a_reversal_on_the_next_invoice(stack: Stack, http):
    billing = stack.url("billing")
    member, org = new_id("M"), new_id("org")
    await stack.publish(enrolled(member, org, "moderate", date(2021, 10, 1)))
    await ledger_when(http, stack, member, lambda lg: len(lg["enrolment_spans"]) == 1)
    assert (await http.post(f"{billing}/months/2021-10/close")).status_code == 201
    october = await invoice_for(http, stack, "2021-10", org)
    assert october["total_amount"] == "400.00"

    disenrolment = await stack.publish(disenrolled(member, org, date(2021, 10, 1)))
    await ledger_when(http, stack, member, lambda lg: lg["enrolment_spans"] == [])
    assert (await http.post(f"{billing}/months/2021-11/close")).status_code == 201
    november = await invoice_for(http, stack, "2021-11", org)
    [line] = november["lines"]
    assert (line["member_id"], line["kind"], line["adjusted_month"], line["amount"], line["reason"]) == (
        member,
        "adjustment",
        "2021-10",
        "-400.00",
        "retro_disenrolment",
    )
    assert line["source_event_ids"] == [disenrolment.id] and november["total_amount"] == "-400.00"
    assert await invoice_for(http, stack, "2021-10", org) == october, "a closed invoice is never rewritten"

    posted = await stack.wait_for_event("billing.events", lambda e: e.type == POSTED and e.subject == member)
    assert (posted.data["adjusted_month"], posted.data["posted_month"], posted.data["reason"]) == (
        "2021-10",
        "2021-11",
        "retro_disenrolment",
    )
    assert Decimal(posted.data["amount"]) == Decimal("-400.00")
    assert posted.data["cause_event_ids"] == [disenrolment.id]
