"""An issued invoice's outputs over HTTP: JSON and CSV lines traceable to their events, the X12 820
remittance valid under pyx12, the Da Vinci MeasureReport valid under fhir.resources.

Month closes are global; like test_billing.py this test uses a month of its own (2022-10) and ends
every enrolment it opens.
"""

import csv
import io
from datetime import date

import pyx12.params
import pyx12.x12n_document
from fhir.resources.R4B.measurereport import MeasureReport

from .stack import Stack
from .test_billing import assessed, disenrolled, enrolled, invoice_for, ledger_when, new_id


def pyx12_accepts(document: str) -> tuple[bool, str]:
    """pyx12's validator (what its x12valid script runs): (valid, the 999 acknowledgement)."""
    ack, html = io.StringIO(), io.StringIO()
    valid = pyx12.x12n_document.x12n_document(
        param=pyx12.params.params(), src_file=io.StringIO(document), fd_997=ack, fd_html=html
    )
    return bool(valid), ack.getvalue()


async def test_an_invoice_reads_as_json_csv_x12_820_and_a_measure_report(stack: Stack, http):
    billing = stack.url("billing")
    org, member, declined = new_id("org"), new_id("M"), new_id("M")
    enrolment = await stack.publish(enrolled(member, org, "high", date(2022, 10, 5)))
    disenrolment = await stack.publish(disenrolled(member, org, date(2022, 11, 1)))
    assessment = await stack.publish(assessed(declined, org, date(2022, 10, 6)))
    await ledger_when(
        http, stack, member, lambda lg: [s["to"] for s in lg["enrolment_spans"]] == ["2022-10-31"]
    )
    await ledger_when(http, stack, declined, lambda lg: len(lg["assessment_fees"]) == 1)
    assert (await http.post(f"{billing}/months/2022-10/close")).status_code in (200, 201)

    invoice = await invoice_for(http, stack, "2022-10", org)
    url = f"{billing}/invoices/{invoice['invoice_id']}"
    traced = {
        (ln["member_id"], ln["kind"], ln["amount"], tuple(ln["source_event_ids"])) for ln in invoice["lines"]
    }
    assert traced == {
        # the span began with the enrolment and ends on 31 October because of the disenrolment
        (member, "pmpm", "600.00", (enrolment.id, disenrolment.id)),
        (declined, "assessment_fee", "325.00", (assessment.id,)),
    }

    for response in (
        await http.get(url, params={"format": "csv"}),
        await http.get(url, headers={"accept": "text/csv"}),
    ):
        assert response.status_code == 200 and response.headers["content-type"].startswith("text/csv")
        rows = list(csv.DictReader(io.StringIO(response.text)))
        assert {(r["member_id"], r["amount"], r["source_event_ids"]) for r in rows} == {
            (member, "600.00", f"{enrolment.id} {disenrolment.id}"),
            (declined, "325.00", assessment.id),
        }
    assert (await http.get(url, params={"format": "xml"})).status_code == 422

    remittance = await http.get(f"{url}/remittance.x12")
    assert remittance.status_code == 200 and remittance.headers["content-type"].startswith(
        "application/edi-x12"
    )
    valid, ack = pyx12_accepts(remittance.text)
    assert valid, ack
    assert "BPR*I*925.00*C*NON" in remittance.text

    report = await http.get(f"{url}/measure-report")
    assert report.headers["content-type"].startswith("application/fhir+json")
    parsed = MeasureReport.model_validate(report.json())
    assert parsed.subject.identifier.value == org
    assert sorted(g.code.coding[0].code for g in parsed.group) == ["assessment_fee", "pmpm"]

    assert (await http.get(f"{billing}/invoices/no-such-invoice/remittance.x12")).status_code == 404
