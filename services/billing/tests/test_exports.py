"""Invoice outputs: CSV, the X12 820 remittance (checked by pyx12's validator, an independent
implementation of the 005010X218 guide) and the Da Vinci MeasureReport (checked by fhir.resources)."""

import csv
import io
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

import pyx12.params
import pyx12.x12n_document
from fhir.resources.R4B.measurereport import MeasureReport

from hearth_billing.exports import invoice_csv, read_exports
from hearth_billing.remittance_x12 import remittance_820
from hearth_billing.value_report import performance_report

D = Decimal
INVOICE_ID = "3f1c2a9e-1111-4222-8333-444455556666"


def line(member: str | None, kind: str, amount: str, **extra: Any) -> dict[str, Any]:
    return {
        "member_id": member,
        "kind": kind,
        "tier": extra.pop("tier", None),
        "service_date": extra.pop("service_date", date(2026, 10, 31)),
        "quantity": extra.pop("quantity", D("1.000000")),
        "unit_amount": D(amount),
        "amount": D(amount),
        "contract_id": "withhold",
        "contract_version": 1,
        "source_event_ids": extra.pop("events", []),
        "adjusted_month": extra.pop("adjusted_month", None),
        "reason": extra.pop("reason", None),
        "detail": extra.pop("detail", None),
    }


def invoice() -> dict[str, Any]:
    """October for org-wh: two members, an adjustment of September, the 2% withhold of the PMPM
    and adjustment lines (2% of 400.00 = 8.00), and half of September's 16.00 withhold earned back."""
    lines = [
        line("W1", "pmpm", "400.00", tier="moderate", events=["ev-enrol-1"]),
        line("W1", "adjustment", "-400.00", tier="moderate", adjusted_month="2026-09", events=["ev-dis-1"]),
        line("W2", "pmpm", "400.00", tier="moderate", events=["ev-enrol-2"]),
        line("W3", "assessment_fee", "325.00", service_date=date(2026, 10, 3), events=["ev-assess-3"]),
        line(None, "withhold", "-8.00", reason="quality_withhold"),
        line(
            None,
            "earn_back",
            "8.00",
            events=["ev-score"],
            reason="surrogate_identified rate 0.700000 >= 0.600000 earns 0.500000 of the withhold",
            detail={
                "measure_id": "surrogate_identified",
                "period": "2026-09",
                "rate": "0.700000",
                "numerator": 7,
                "denominator": 10,
            },
        ),
    ]
    return {
        "invoice_id": INVOICE_ID,
        "month": "2026-10",
        "provider_org_id": "org-wh",
        "total_amount": sum((ln["amount"] for ln in lines), D("0.00")),
        "line_count": len(lines),
        "currency": "USD",
        "issued_at": datetime(2026, 11, 1, 3, 4, tzinfo=UTC),
        "lines": lines,
    }


def pyx12_accepts(document: str) -> tuple[bool, str]:
    """Run pyx12's validator (what its x12valid script runs); returns (valid, the 999 it wrote)."""
    ack, html = io.StringIO(), io.StringIO()
    valid = pyx12.x12n_document.x12n_document(
        param=pyx12.params.params(), src_file=io.StringIO(document), fd_997=ack, fd_html=html
    )
    return bool(valid), ack.getvalue()


def test_the_invoice_csv_has_a_row_per_line_with_the_events_behind_it():
    rows = list(csv.DictReader(io.StringIO(invoice_csv(invoice()))))
    assert len(rows) == 6
    assert rows[1] == {
        "invoice_id": INVOICE_ID,
        "month": "2026-10",
        "provider_org_id": "org-wh",
        "member_id": "W1",
        "kind": "adjustment",
        "tier": "moderate",
        "service_date": "2026-10-31",
        "quantity": "1",
        "unit_amount": "-400.00",
        "amount": "-400.00",
        "contract_id": "withhold",
        "contract_version": "1",
        "adjusted_month": "2026-09",
        "reason": "",
        "source_event_ids": "ev-dis-1",
    }
    assert sum(D(r["amount"]) for r in rows) == D("725.00")


def test_the_remittance_is_an_820_that_pyx12_validates_with_the_invoice_amounts():
    document = remittance_820(invoice(), read_exports().x12)
    valid, ack = pyx12_accepts(document)
    assert valid, ack
    assert "IK5*A~" in ack, "the 999 acknowledgement accepts the transaction set"
    segments = document.split("\n")
    assert "BPR*I*725.00*C*NON******1999999999******20261101~" in segments
    assert f"TRN*1*{INVOICE_ID}*1999999999~" in segments
    amounts = [s.split("*")[4].rstrip("~") for s in segments if s.startswith("RMR*")]
    assert amounts == ["-8.00", "8.00", "400.00", "-400.00", "400.00", "325.00"]
    # the adjustment's own coverage period is September; the fee's is its service date
    assert "DTM*582****RD8*20260901-20260930~" in segments
    assert "DTM*582****RD8*20261003-20261003~" in segments
    assert remittance_820(invoice(), read_exports().x12) == document, "the same invoice, the same file"


def test_pyx12_refuses_a_remittance_with_a_missing_required_segment():
    document = remittance_820(invoice(), read_exports().x12)
    broken = "\n".join(s for s in document.split("\n") if not s.startswith("TRN*"))
    valid, _ = pyx12_accepts(broken)
    assert not valid


def test_the_measure_report_has_payment_streams_and_the_score_that_moved_money():
    report = performance_report(invoice(), read_exports().fhir, "Hearth Health Plan")
    MeasureReport.model_validate(report)
    assert (report["status"], report["type"], report["period"]) == (
        "complete",
        "summary",
        {"start": "2026-10-01", "end": "2026-10-31"},
    )
    streams = {
        g["code"]["coding"][0]["code"]: (
            D(str(g["measureScore"]["value"])),
            g["extension"][0]["extension"][0]["valueCodeableConcept"]["coding"][0]["code"],
        )
        for g in report["group"]
        if g["id"].startswith("stream-")
    }
    assert streams == {
        "pmpm": (D("800.00"), "ccf"),
        "adjustment": (D("-400.00"), "ccf"),
        "assessment_fee": (D("325.00"), "ccf"),
        "withhold": (D("-8.00"), "qip"),
        "earn_back": (D("8.00"), "qip"),
    }
    [score] = [g for g in report["group"] if g["id"].startswith("score-")]
    assert score["code"]["coding"][0]["code"] == "surrogate_identified"
    assert D(str(score["measureScore"]["value"])) == D("0.7")
    assert [p["count"] for p in score["population"]] == [7, 10]
    assert "earns 0.500000 of the withhold" in score["code"]["text"]
