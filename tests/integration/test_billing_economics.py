"""The economic evaluation over the real broker and Postgres: claim lines in on `claims.lines`,
enrolments and a month close through billing, the report by hand to the cent.

Month closes are global and a month cannot close while an earlier month with activity is open; like
test_billing.py this test uses months of its own (June and July 2020, after test_billing's), ends
every enrolment it opens and closes its months oldest first. Claims create no billing activity, so
claims in earlier months block nothing.
"""

import asyncio
import csv
import io
from datetime import date
from decimal import Decimal
from typing import Any

import httpx

from hearth_schemas import ClaimLineReceived

from .authz.access import client_of
from .stack import Stack
from .test_billing import disenrolled, enrolled, ledger_when, new_id

REPORT = "/reports/economic-evaluation"


def claim(member: str, claim_id: str, claim_type: str, start: date, end: date, paid: str, line: int = 1):
    return ClaimLineReceived(
        claim_id=claim_id,
        line_number=line,
        member_id=member,
        claim_type=claim_type,
        service_from=start,
        service_to=end,
        paid_amount=Decimal(paid),
    )


async def row_when(http: httpx.AsyncClient, stack: Stack, org: str, ready: Any) -> dict[str, Any]:
    """The organization's row once `ready(row)` holds (billing consumes claims asynchronously)."""
    row: dict[str, Any] | None = None
    for _ in range(200):
        response = await http.get(stack.url("billing") + REPORT, params={"from": "2020-06", "to": "2020-07"})
        assert response.status_code == 200, response.text
        row = next((r for r in response.json()["rows"] if r["provider_org_id"] == org), None)
        if row is not None and ready(row):
            return row
        await asyncio.sleep(0.1)
    raise AssertionError(f"the economic evaluation of {org} never became ready: {row}")


async def test_the_economic_evaluation_sets_bundled_pmpm_against_claims_cost_before_and_after(
    stack: Stack, http
):
    billing = stack.url("billing")
    org, early, late = new_id("org"), new_id("M"), new_id("M")

    # early: enrolled 1 June (moderate, 400.00) for June and July; late: 10 July (high, 600.00)
    await stack.publish(enrolled(early, org, "moderate", date(2020, 6, 1)))
    await stack.publish(disenrolled(early, org, date(2020, 8, 1)))
    await stack.publish(enrolled(late, org, "high", date(2020, 7, 10)))
    await stack.publish(disenrolled(late, org, date(2020, 8, 1)))
    for member in (early, late):
        await ledger_when(
            http, stack, member, lambda lg: [s["to"] for s in lg["enrolment_spans"]] == ["2020-07-31"]
        )

    c = new_id("C")
    lines = [
        # early's baseline is December 2019 to May 2020
        claim(early, f"{c}-1", "inpatient", date(2020, 3, 2), date(2020, 3, 7), "8000.00"),  # 5 days
        claim(
            early, f"{c}-1", "inpatient", date(2020, 3, 2), date(2020, 3, 7), "1000.00", line=2
        ),  # same stay
        claim(early, f"{c}-2", "professional", date(2019, 11, 20), date(2019, 11, 20), "500.00"),  # too early
        claim(early, f"{c}-3", "outpatient", date(2020, 6, 15), date(2020, 6, 15), "300.00"),  # enrolled
        claim(
            early, f"{c}-4", "inpatient", date(2020, 7, 1), date(2020, 7, 3), "2500.00"
        ),  # enrolled, 2 days
        # late's baseline is January to June 2020
        claim(late, f"{c}-5", "professional", date(2020, 6, 20), date(2020, 6, 20), "1200.50"),
        claim(
            late, f"{c}-6", "inpatient", date(2020, 2, 10), date(2020, 2, 10), "3000.25"
        ),  # same day: 1 day
        claim(late, f"{c}-7", "outpatient", date(2020, 7, 20), date(2020, 7, 20), "100.10"),
        claim(late, f"{c}-7", "outpatient", date(2020, 7, 20), date(2020, 7, 20), "150.10"),  # corrected
        claim(late, f"{c}-8", "professional", date(2020, 8, 5), date(2020, 8, 5), "999.00"),  # after leaving
    ]
    for line in lines:
        await stack.publish(line)
    for month in ("2020-06", "2020-07"):
        assert (await http.post(f"{billing}/months/{month}/close")).status_code in (200, 201)

    row = await row_when(
        http,
        stack,
        org,
        lambda r: r["claims_cost_after"] == "2950.10" and r["claims_cost_before"] == "13200.75",
    )
    assert row == {
        "provider_org_id": org,
        "members": 2,
        "member_months": 3,
        "member_months_before": 12,  # 2 members x 6 months
        "bundled_paid": "1400.00",  # 400.00 x 2 + 600.00
        "bundled_pmpm": "466.67",  # 1400.00 / 3
        "claims_cost_before": "13200.75",  # 9000.00 + 1200.50 + 3000.25
        "claims_cost_pmpm_before": "1100.06",  # / 12 = 1100.0625
        "claims_cost_after": "2950.10",  # 300.00 + 2500.00 + 150.10
        "claims_cost_pmpm_after": "983.37",  # / 3 = 983.366...
        "hospital_days_before": 6,  # 5 + 1
        "hospital_days_per_1000_before": "500.0",
        "hospital_days_after": 2,
        "hospital_days_per_1000_after": "666.7",
        "return_per_dollar": "0.25",  # (1100.06 - 983.37) / 466.67 = 0.2500...
    }

    # CSV, by the query parameter or the Accept header
    as_csv = await http.get(billing + REPORT, params={"from": "2020-06", "to": "2020-07", "format": "csv"})
    assert as_csv.status_code == 200 and as_csv.headers["content-type"].startswith("text/csv")
    csv_row = next(r for r in csv.DictReader(io.StringIO(as_csv.text)) if r["provider_org_id"] == org)
    assert csv_row["bundled_pmpm"] == "466.67" and csv_row["return_per_dollar"] == "0.25"
    accepted = await http.get(
        billing + REPORT, params={"from": "2020-06", "to": "2020-07"}, headers={"accept": "text/csv"}
    )
    assert accepted.text == as_csv.text

    # the program's row is the plan's; the organization sees its own row and no other
    plan_rows = (await http.get(billing + REPORT, params={"from": "2020-06", "to": "2020-07"})).json()["rows"]
    assert plan_rows[-1]["provider_org_id"] is None
    assert plan_rows[-1]["members"] == sum(r["members"] for r in plan_rows[:-1])
    async with client_of(org) as provider:
        own = (await provider.get(billing + REPORT, params={"from": "2020-06", "to": "2020-07"})).json()
    assert own["rows"] == [row]

    # a baseline asked for: two months before enrolment (early: April, May; late: May, June)
    shorter = await http.get(
        billing + REPORT, params={"from": "2020-06", "to": "2020-07", "months_before": "2"}
    )
    short_row = next(r for r in shorter.json()["rows"] if r["provider_org_id"] == org)
    # 1200.50 / (2 members x 2 months) = 300.125, half-up
    assert (short_row["claims_cost_pmpm_before"], short_row["hospital_days_before"]) == ("300.13", 0)

    # a claim line delivered again changes nothing: the 8000.00 line again, then a new July claim
    await stack.publish(lines[0])
    await stack.publish(claim(early, f"{c}-9", "professional", date(2020, 7, 2), date(2020, 7, 2), "49.90"))
    again = await row_when(http, stack, org, lambda r: r["claims_cost_after"] == "3000.00")
    assert (again["claims_cost_before"], again["hospital_days_before"]) == ("13200.75", 6)
    assert (
        again["claims_cost_pmpm_after"] == "1000.00" and again["return_per_dollar"] == "0.21"
    )  # 100.06 / 466.67


async def test_a_report_with_a_bad_month_or_months_backwards_is_refused_naming_the_field(stack: Stack, http):
    url = stack.url("billing") + REPORT
    bad_month = await http.get(url, params={"from": "2020-13", "to": "2020-07"})
    assert bad_month.status_code == 422 and "from" in bad_month.text
    backwards = await http.get(url, params={"from": "2020-08", "to": "2020-07"})
    assert backwards.status_code == 422
    assert backwards.json()["detail"] == [{"field": "to", "reason": "must not be before from"}]
    missing = await http.get(url, params={"from": "2020-06"})
    assert missing.status_code == 422 and "to" in missing.text
    too_long = await http.get(url, params={"from": "2020-06", "to": "2020-07", "months_before": "37"})
    assert too_long.status_code == 422 and "months_before" in too_long.text
