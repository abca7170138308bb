"""Performance incentives and DME requests, amounts computed by hand, through the real handlers and
the real set-based close on a billing database of the test's own (see test_billing_rules.py), and
the DME routes through the running service."""

import io
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest
import pyx12.params
import pyx12.x12n_document
from fhir.resources.R4B.measurereport import MeasureReport

from hearth_billing import handlers
from hearth_billing.api import InvoiceOut
from hearth_billing.exports import read_exports
from hearth_billing.periods import Month
from hearth_billing.rebuild import replay, timeline
from hearth_billing.remittance_x12 import remittance_820
from hearth_billing.value_report import performance_report
from hearth_schemas import MemberDisenrolled, MemberEnrolled, PerformanceScored

from .stack import Stack
from .test_billing_rules import ANY_ORGANIZATION, Billing, billing_with_contracts, lines_of, total

CONTRACTS = (
    ANY_ORGANIZATION
    + """
[[contract]]
contract_id = "incentive"
version = 1
effective_from = 2026-01-01
provider_org_id = "org-inc"
line_of_business = "*"
proration = "full_month"
assessment_fee = "325.00"
pmpm = { moderate = "400.00", high = "600.00" }

[contract.incentive.surrogate_identified]
"0.90" = { amount = "500.00" }
"0.70" = { percent = "1.5" }

[contract.incentive.goals_of_care]
"0.50" = { amount = "250.00" }

[[contract]]
contract_id = "dme"
version = 1
effective_from = 2026-01-01
provider_org_id = "org-dme"
line_of_business = "*"
proration = "full_month"
assessment_fee = "325.00"
pmpm = { moderate = "400.00", high = "600.00" }

[contract.dme]
E0250 = { handling = "allowance" }
E1390 = { handling = "pass_through", cap = "1500.00" }
"""
)


@pytest.fixture
async def billing(stack: Stack, tmp_path: Path) -> AsyncIterator[Billing]:
    (tmp_path / "plan.toml").write_text(CONTRACTS, encoding="utf-8")
    async for running in billing_with_contracts(stack, tmp_path):
        yield running


def enrolled(member: str, org: str, tier: str, on: date) -> MemberEnrolled:
    return MemberEnrolled(
        enrollment_id=f"E-{member}",
        member_id=member,
        provider_org_id=org,
        tier=tier,
        effective_date=on,
        consent_on=on,
    )


def scored(measure: str, period: str, rate: str) -> PerformanceScored:
    return PerformanceScored(
        score_id=f"S-{measure}-{period}",
        provider_org_id="org-inc",
        measure_id=measure,
        measure_version="1",
        period=period,
        numerator=int(Decimal(rate) * 20),
        denominator=20,
        rate=Decimal(rate),
        reported=True,
        computed_at=datetime(2026, 11, 2, tzinfo=UTC),
    )


def outputs_are_valid(invoice: dict[str, Any]) -> dict[str, Decimal]:
    """The invoice's 820 passes pyx12 and its MeasureReport fhir.resources; returns the report's
    payment streams (line kind -> total)."""
    exports = read_exports()
    document = remittance_820(invoice, exports.x12)
    valid = pyx12.x12n_document.x12n_document(
        param=pyx12.params.params(),
        src_file=io.StringIO(document),
        fd_997=io.StringIO(),
        fd_html=io.StringIO(),
    )
    assert valid, document
    report = performance_report(invoice, exports.fhir, exports.x12.payer_name)
    MeasureReport.model_validate(report)
    return {
        g["code"]["coding"][0]["code"]: Decimal(str(g["measureScore"]["value"]))
        for g in report["group"]
        if g["id"].startswith("stream-")
    }


def incentive_lines(invoice: dict[str, Any]) -> list[tuple[Any, ...]]:
    return [
        (
            line["detail"]["measure_id"],
            str(line["quantity"]),
            str(line["unit_amount"]),
            str(line["amount"]),
            line["reason"],
        )
        for line in sorted(
            (line for line in invoice["lines"] if line["kind"] == "incentive"),
            key=lambda line: line["reason"],
        )
    ]


async def test_incentives_pay_the_highest_target_met_as_a_percent_or_an_amount_on_the_next_close(
    billing: Billing,
):
    await billing.deliver(
        enrolled("I1", "org-inc", "moderate", date(2026, 10, 1)),
        enrolled("I2", "org-inc", "high", date(2026, 10, 1)),
        enrolled("I3", "org-inc", "moderate", date(2026, 10, 1)),
    )
    await billing.close("2026-10")
    assert total(await billing.invoice("2026-10", "org-inc")) == "1400.00"  # 400 + 600 + 400

    [surrogate, _] = await billing.deliver(
        scored("surrogate_identified", "2026-10", "0.75"), scored("goals_of_care", "2026-10", "0.40")
    )
    await billing.close("2026-11")
    november = await billing.invoice("2026-11", "org-inc")
    # 0.75 meets 0.70 (not 0.90): 1.5% of October's PMPM 1400.00 = 21.00; goals of care pays nothing
    assert incentive_lines(november) == [
        (
            "goals_of_care",
            "0.000000",
            "0.00",
            "0.00",
            "goals_of_care rate 0.400000 below every incentive target: no incentive",
        ),
        (
            "surrogate_identified",
            "0.015000",
            "1400.00",
            "21.00",
            "surrogate_identified rate 0.750000 >= 0.700000 pays 1.50% of the period's PMPM 1400.00",
        ),
    ]
    paid = next(line for line in november["lines"] if line["amount"] == Decimal("21.00"))
    assert paid["source_event_ids"] == [surrogate.id] and paid["member_id"] is None
    assert {k: paid["detail"][k] for k in ("score_id", "period", "rate", "target_rate", "percent")} == {
        "score_id": "S-surrogate_identified-2026-10",
        "period": "2026-10",
        "rate": "0.750000",
        "target_rate": "0.700000",
        "percent": "1.50",
    }
    assert total(november) == "1421.00"  # 1400.00 + 21.00
    assert outputs_are_valid(november) == {"pmpm": Decimal("1400.00"), "incentive": Decimal("21.00")}

    await billing.deliver(scored("surrogate_identified", "2026-11", "0.95"))
    await billing.close("2026-12")
    december = await billing.invoice("2026-12", "org-inc")
    assert incentive_lines(december) == [
        (
            "surrogate_identified",
            "1.000000",
            "500.00",
            "500.00",
            "surrogate_identified rate 0.950000 >= 0.900000 pays 500.00",
        )
    ]
    assert total(december) == "1900.00"  # 1400.00 + 500.00, each score paid once


async def test_dme_requests_are_decided_by_the_contract_and_pass_throughs_billed_up_to_the_cap(
    billing: Billing,
):
    await billing.deliver(enrolled("D1", "org-dme", "moderate", date(2026, 10, 1)))

    async def request(code: str, day: date, amount: str) -> dict[str, Any]:
        return await handlers.request_dme(billing.db, "D1", code, day, Decimal(amount))

    bed = await request("E0250", date(2026, 10, 5), "2400.00")
    oxygen = await request("E1390", date(2026, 10, 12), "1800.00")
    second = await request("E1390", date(2026, 10, 20), "900.00")
    unknown = await request("E0999", date(2026, 10, 12), "100.00")
    before = await request("E1390", date(2026, 9, 15), "100.00")
    assert [(r["status"], r["billed_amount"]) for r in (bed, oxygen, second, unknown, before)] == [
        ("approved", Decimal("0.00")),
        ("approved", Decimal("1500.00")),
        ("approved", Decimal("900.00")),
        ("refused", None),
        ("refused", None),
    ]
    assert unknown["reason"] == "E0999 is not covered by contract dme v1 (covered: E0250, E1390)"
    assert before["reason"] == "member D1 is not enrolled on 2026-09-15"

    await billing.close("2026-10")
    october = await billing.invoice("2026-10", "org-dme")
    assert lines_of(october, "member_id", "kind", "service_date", "amount") == [
        ("D1", "dme", "2026-10-12", "1500.00"),
        ("D1", "dme", "2026-10-20", "900.00"),
        ("D1", "pmpm", "2026-10-31", "400.00"),
    ]
    assert total(october) == "2800.00"  # 400.00 + 1500.00 (capped from 1800.00) + 900.00
    capped = next(line for line in october["lines"] if line["amount"] == Decimal("1500.00"))
    assert capped["detail"] == {
        "dme_request_id": oxygen["request_id"],
        "hcpcs_code": "E1390",
        "requested_amount": "1800.00",
        "cap": "1500.00",
    }
    assert outputs_are_valid(october) == {"pmpm": Decimal("400.00"), "dme": Decimal("2400.00")}
    billed = await handlers.dme_request_view(billing.db, oxygen["request_id"])
    assert billed["invoice_id"] == october["invoice_id"]
    assert (await handlers.dme_request_view(billing.db, bed["request_id"]))["invoice_id"] is None

    # a request for a closed month is billed by the next close, never by rewriting October
    late = await request("E1390", date(2026, 10, 25), "300.00")
    await billing.close("2026-11")
    november = await billing.invoice("2026-11", "org-dme")
    assert lines_of(november, "member_id", "kind", "service_date", "amount") == [
        ("D1", "dme", "2026-10-25", "300.00"),
        ("D1", "pmpm", "2026-11-30", "400.00"),
    ]
    assert november["lines"][0]["detail"]["dme_request_id"] == late["request_id"]
    assert await billing.invoice("2026-10", "org-dme") == october


async def test_dme_after_a_retroactive_disenrolment_is_reversed_on_the_next_open_invoice(billing: Billing):
    await billing.deliver(enrolled("D2", "org-dme", "moderate", date(2026, 10, 1)))

    async def request(day: date, amount: str) -> dict[str, Any]:
        return await handlers.request_dme(billing.db, "D2", "E1390", day, Decimal(amount))

    kept = await request(date(2026, 10, 5), "300.00")
    capped = await request(date(2026, 10, 12), "1800.00")
    await billing.close("2026-10")
    november_dme = await request(date(2026, 11, 5), "600.00")
    await billing.close("2026-11")
    october = await billing.invoice("2026-10", "org-dme")
    november = await billing.invoice("2026-11", "org-dme")
    assert (total(october), total(november)) == ("2200.00", "1000.00")  # 400 + 300 + 1500; 400 + 600

    # after both closes: the member left on 2026-10-10 (enrolled 1-9 October)
    [left] = await billing.deliver(
        MemberDisenrolled(
            enrollment_id="E-D2",
            member_id="D2",
            provider_org_id="org-dme",
            reason="death",
            effective_date=date(2026, 10, 10),
        )
    )
    await billing.close("2026-12")
    december = await billing.invoice("2026-12", "org-dme")
    keys = ("member_id", "kind", "adjusted_month", "service_date", "amount", "reason")
    # October's PMPM stands (enrolled on days of October); November's PMPM and both DME items
    # dated on or after the 10th are reversed; the DME of 5 October stands
    assert lines_of(december, *keys) == [
        ("D2", "adjustment", "2026-11", "2026-11-30", "-400.00", "retro_disenrolment"),
        ("D2", "dme_adjustment", "2026-10", "2026-10-12", "-1500.00", "retro_disenrolment"),
        ("D2", "dme_adjustment", "2026-11", "2026-11-05", "-600.00", "retro_disenrolment"),
    ]
    assert total(december) == "-2500.00"
    reversed_requests = {
        line["detail"]["dme_request_id"] for line in december["lines"] if line["kind"] == "dme_adjustment"
    }
    assert reversed_requests == {capped["request_id"], november_dme["request_id"]}
    assert kept["request_id"] not in reversed_requests
    assert {tuple(line["source_event_ids"]) for line in december["lines"]} == {(left.id,)}
    assert outputs_are_valid(december) == {
        "adjustment": Decimal("-400.00"),
        "dme_adjustment": Decimal("-2100.00"),
    }
    posted = sorted(
        (p["adjusted_month"], p["posted_month"], p["amount"], p["reason"], tuple(p["cause_event_ids"]))
        for p in await billing.outbox("hearth.billing.AdjustmentPosted.v1")
    )
    assert posted == [
        ("2026-10", "2026-12", "-1500.00", "retro_disenrolment", (left.id,)),
        ("2026-11", "2026-12", "-1000.00", "retro_disenrolment", (left.id,)),
    ]
    assert await billing.invoice("2026-10", "org-dme") == october, "a closed invoice is never rewritten"
    assert await billing.invoice("2026-11", "org-dme") == november
    # the invoice as GET /invoices/{id} answers it
    assert InvoiceOut.model_validate(december).total_amount == Decimal("-2500.00")

    await billing.close("2027-01")
    assert await handlers.invoices_view(billing.db, Month.parse("2027-01"), "org-dme") == [], "reversed once"


async def test_dme_routes_refuse_bad_input_and_answer_refusals_with_their_reason(
    stack: Stack, http: httpx.AsyncClient, member_id: str
):
    url = stack.url("billing")
    good = {"member_id": member_id, "hcpcs_code": "E0250", "service_date": "2026-10-05", "amount": "250.00"}
    for field, value in (("hcpcs_code", "E25"), ("amount", "0"), ("amount", "1.001"), ("service_date", "x")):
        response = await http.post(f"{url}/dme-requests", json={**good, field: value})
        assert response.status_code == 422, (field, value, response.text)
        assert field in response.text
    assert (await http.post(f"{url}/dme-requests", json={**good, "note": "x"})).status_code == 422

    response = await http.post(f"{url}/dme-requests", json=good)
    assert response.status_code == 201, response.text
    refused = response.json()
    assert (refused["status"], refused["reason"], refused["billed_amount"]) == (
        "refused",
        f"member {member_id} is not enrolled on 2026-10-05",
        None,
    )
    fetched = await http.get(f"{url}/dme-requests/{refused['request_id']}")
    assert fetched.json() == refused
    listed = await http.get(f"{url}/members/{member_id}/dme-requests")
    assert [r["request_id"] for r in listed.json()] == [refused["request_id"]]
    assert (await http.get(f"{url}/dme-requests/no-such-request")).status_code == 404


async def test_a_rebuild_replays_the_dme_decisions_and_issues_the_same_dme_lines(
    billing: Billing, stack: Stack, tmp_path: Path
):
    facts = await billing.deliver(enrolled("R1", "org-dme", "moderate", date(2026, 10, 1)))

    async def request(code: str, day: date, amount: str) -> dict[str, Any]:
        return await handlers.request_dme(billing.db, "R1", code, day, Decimal(amount))

    await request("E1390", date(2026, 10, 12), "1800.00")
    refused = await request("E0999", date(2026, 10, 12), "100.00")
    await billing.close("2026-10")
    late = await request("E1390", date(2026, 10, 25), "300.00")  # billed by November's close
    await billing.close("2026-11")
    originals = {m: await billing.invoice(m, "org-dme") for m in ("2026-10", "2026-11")}
    assert [total(originals[m]) for m in originals] == ["1900.00", "700.00"]  # 400 + 1500 cap; 400 + 300

    async for fresh in billing_with_contracts(stack, tmp_path):
        report = await replay(fresh.db, timeline([*facts, *await billing.published()]).steps)
        assert report.dme_decisions == 3
        assert [c.month for c in report.closed] == ["2026-10", "2026-11"]
        for month, original in originals.items():
            assert await fresh.invoice(month, "org-dme") == original
        for decided in (late, refused):
            assert await handlers.dme_request_view(fresh.db, decided["request_id"]) == decided | {
                "invoice_id": (await handlers.dme_request_view(billing.db, decided["request_id"]))[
                    "invoice_id"
                ]
            }
