"""Rebuilding the ledger by replaying the topics from the start gives the same invoices.

The stack's billing is the original: this test drives its organizations through two months over
the real broker, with a change after each close (a retroactive disenrolment, a fee dated in a
closed month), and closes them. Then `hearth_billing.rebuild` reads every topic billing consumes
and billing.events from the earliest offset into a fresh billing database of its own (no
consumer group, nothing relayed), replays the facts and re-runs every recorded close in order, and
the test compares its organizations' invoices line by line and total by total.

Month closes are global, and other tests leave enrolments open from 2026 on, so a month after
them could never close; like test_billing.py, this test uses months of its own that no other test
touches (2023-03 and 2023-04), ends every enrolment it opens and closes every month it touches.
"""

from datetime import date, datetime
from decimal import Decimal
from typing import Any

from hearth_billing import handlers
from hearth_billing.app import BillingSettings, definition
from hearth_billing.periods import Month
from hearth_billing.rebuild import rebuild
from hearth_platform.db import Database
from hearth_platform.migrations import upgrade
from hearth_platform.settings import Settings

from .stack import Stack
from .test_billing import (
    CLOSED,
    ISSUED,
    assessed,
    disenrolled,
    enrolled,
    invoice_for,
    ledger_when,
    new_id,
    tier_changed,
)

MARCH, APRIL = "2023-03", "2023-04"
NUMBERS = ("quantity", "unit_amount", "amount")


def comparable(invoice: dict[str, Any]) -> dict[str, Any]:
    """An invoice as the API and the handlers both give it: amounts as Decimals, dates as text."""
    issued = invoice["issued_at"]
    lines = [
        {
            **{k: str(v) if k == "service_date" else v for k, v in line.items() if k not in NUMBERS},
            **{k: Decimal(str(line[k])) for k in NUMBERS},
        }
        for line in invoice["lines"]
    ]
    return {
        "invoice_id": invoice["invoice_id"],
        "month": invoice["month"],
        "provider_org_id": invoice["provider_org_id"],
        "total_amount": Decimal(str(invoice["total_amount"])),
        "line_count": invoice["line_count"],
        "issued_at": issued if isinstance(issued, datetime) else datetime.fromisoformat(issued),
        "lines": sorted(lines, key=lambda line: (line["member_id"] or "", line["kind"], str(line["amount"]))),
    }


async def test_replaying_the_topics_into_a_fresh_billing_issues_the_same_invoices(stack: Stack, http):
    billing = stack.url("billing")
    org_a, org_b = new_id("org"), new_id("org")
    stays, leaves, declines = new_id("M"), new_id("M"), new_id("M")

    await stack.publish(enrolled(stays, org_a, "moderate", date(2023, 3, 10)))
    await stack.publish(enrolled(leaves, org_a, "moderate", date(2023, 3, 1)))
    await stack.publish(assessed(stays, org_a, date(2023, 3, 5)))
    await stack.publish(assessed(declines, org_b, date(2023, 3, 20)))
    await ledger_when(
        http, stack, stays, lambda lg: len(lg["enrolment_spans"]) == 1 and lg["assessment_fees"]
    )
    await ledger_when(http, stack, leaves, lambda lg: len(lg["enrolment_spans"]) == 1)
    await ledger_when(http, stack, declines, lambda lg: len(lg["assessment_fees"]) == 1)
    assert (await http.post(f"{billing}/months/{MARCH}/close")).status_code == 201

    # after March closed: a step up from 15 April, a retroactive disenrolment from 1 March, an
    # assessment dated in March reported late, and the stayer leaves from 1 May
    await stack.publish(tier_changed(stays, org_a, "high", date(2023, 4, 15)))
    await stack.publish(disenrolled(leaves, org_a, date(2023, 3, 1)))
    await stack.publish(assessed(leaves, org_b, date(2023, 3, 25)))
    await stack.publish(disenrolled(stays, org_a, date(2023, 5, 1)))
    await ledger_when(
        http,
        stack,
        stays,
        lambda lg: [s["to"] for s in lg["enrolment_spans"]] == ["2023-04-14", "2023-04-30"],
    )
    await ledger_when(http, stack, leaves, lambda lg: lg["enrolment_spans"] == [] and lg["assessment_fees"])
    assert (await http.post(f"{billing}/months/{APRIL}/close")).status_code == 201

    originals = {
        (month, org): await invoice_for(http, stack, month, org)
        for month, org in ((MARCH, org_a), (MARCH, org_b), (APRIL, org_a), (APRIL, org_b))
    }
    # by hand: March 400.00 + 400.00 + 325.00 and 325.00; April the high tier 600.00 with
    # March's 400.00 reversed, and the late fee 325.00
    assert [originals[k]["total_amount"] for k in originals] == ["1125.00", "325.00", "200.00", "325.00"]

    # the rebuild reads the log as published: wait for the relay to announce the April close
    for org in (org_a, org_b):
        await stack.wait_for_event(
            "billing.events",
            lambda e, org=org: e.type == ISSUED and e.data["month"] == APRIL and e.subject == org,
        )
    await stack.wait_for_event("billing.events", lambda e: e.type == CLOSED and e.subject == APRIL)

    url = await stack.isolated_database()
    await upgrade(url, definition.schema, definition.migrations)
    db = Database(Settings(database_url=url), "billing", definition.platform)
    try:
        await handlers.load_contracts(db, BillingSettings().contracts_dir)
        report = await rebuild(db, stack.infra.kafka_bootstrap)
        rebuilt = {}
        for month, org in originals:
            [listed] = await handlers.invoices_view(db, Month.parse(month), org)
            rebuilt[(month, org)] = await handlers.invoice_view(db, listed["invoice_id"])
    finally:
        await db.dispose()

    assert {MARCH, APRIL} <= {c.month for c in report.closed}
    assert report.refused_closes == []
    for key, original in originals.items():
        assert comparable(rebuilt[key]) == comparable(original), key
