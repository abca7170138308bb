"""An invoice as a Da Vinci Value-Based Performance Reporting MeasureReport (FHIR R4): what the
plan paid a provider organization in a month, per payment stream, and the quality scores that
moved money.

- One group per kind of invoice line (PMPM, fees, DME, adjustments, withhold, earn-back,
  incentive): its code is the line kind, its score the kind's total in USD, and its payment
  stream (extension `payment-stream`) the Da Vinci code configured for the kind in exports.toml
  (ccf, the care coordination fee, for the bundled payment; qip, the quality incentive payment,
  for the withhold and what earns it back).
- One group per quality score applied on the invoice (an earn-back or incentive line): its code
  is the measure, its score the rate, its populations the numerator and denominator; its text
  names the rule and the amount the score earned (the money itself is in the kind's group).

Built with `fhir.resources` (R4B models, the R4 structure): an invalid report fails here, not at
the reader.
"""

from collections.abc import Mapping
from datetime import datetime
from decimal import Decimal
from typing import Any

from fhir.resources.R4B.measurereport import MeasureReport

from .exports import FhirSettings
from .periods import Month

VBPR = "http://hl7.org/fhir/us/davinci-vbpr/StructureDefinition"
PROFILE = f"{VBPR}/vbp-performance-measurereport"
CATEGORY = "http://hl7.org/fhir/StructureDefinition/measurereport-category"
CATEGORY_SYSTEM = "http://hl7.org/fhir/CodeSystem/measurereport-category"
USD = {"unit": "USD", "system": "urn:iso:std:iso:4217", "code": "USD"}
POPULATION = "http://terminology.hl7.org/CodeSystem/measure-population"
SCORED_KINDS = ("earn_back", "incentive")


def _payment_stream(settings: FhirSettings, kind: str, first: str, last: str) -> list[dict[str, Any]]:
    return [
        {
            "url": f"{VBPR}/payment-stream",
            "extension": [
                {
                    "url": "type",
                    "valueCodeableConcept": {
                        "coding": [
                            {"system": settings.payment_stream_system, "code": settings.payment_streams[kind]}
                        ]
                    },
                }
            ],
        },
        {"url": f"{VBPR}/service-period", "valuePeriod": {"start": first, "end": last}},
    ]


def performance_report(invoice: Mapping[str, Any], settings: FhirSettings, payer_name: str) -> dict[str, Any]:
    month = Month.parse(invoice["month"])
    first, last = month.first_day.isoformat(), month.last_day.isoformat()
    totals: dict[str, Decimal] = {}
    for line in invoice["lines"]:
        totals[line["kind"]] = totals.get(line["kind"], Decimal("0.00")) + Decimal(str(line["amount"]))
    groups: list[dict[str, Any]] = [
        {
            "id": f"stream-{kind.replace('_', '-')}",
            "extension": _payment_stream(settings, kind, first, last),
            "code": {"coding": [{"system": settings.metric_system, "code": kind}], "text": kind},
            "measureScore": {"value": total, **USD},
        }
        for kind, total in sorted(totals.items())
    ]
    for index, line in enumerate(
        (line for line in invoice["lines"] if line["kind"] in SCORED_KINDS and line.get("detail")), start=1
    ):
        detail = line["detail"]
        scored: dict[str, Any] = {
            "id": f"score-{index}",
            "extension": _payment_stream(settings, line["kind"], first, last),
            "code": {
                "coding": [{"system": settings.measure_system, "code": detail["measure_id"]}],
                "text": f"{detail['measure_id']} {detail['period']}: {line['reason']} ({line['amount']} USD)",
            },
            "population": [
                {
                    "code": {"coding": [{"system": POPULATION, "code": "numerator"}]},
                    "count": detail["numerator"],
                },
                {
                    "code": {"coding": [{"system": POPULATION, "code": "denominator"}]},
                    "count": detail["denominator"],
                },
            ],
        }
        if detail.get("rate") is not None:
            scored["measureScore"] = {"value": Decimal(detail["rate"])}
        groups.append(scored)
    contract = next((line["contract_id"] for line in invoice["lines"]), "none")
    issued: datetime = invoice["issued_at"]
    report = MeasureReport.model_validate(
        {
            "resourceType": "MeasureReport",
            "id": invoice["invoice_id"],
            "meta": {"profile": [PROFILE]},
            "extension": [
                {
                    "url": CATEGORY,
                    "valueCodeableConcept": {"coding": [{"system": CATEGORY_SYSTEM, "code": "vbp"}]},
                }
            ],
            "identifier": [{"system": "urn:hearth:invoice", "value": invoice["invoice_id"]}],
            "status": "complete",
            "type": "summary",
            "measure": f"{settings.contract_base_url}{contract}",
            "subject": {
                "identifier": {
                    "system": "urn:hearth:provider-organization",
                    "value": invoice["provider_org_id"],
                },
                "display": invoice["provider_org_id"],
            },
            "date": issued.isoformat(),
            "reporter": {"display": payer_name},
            "period": {"start": first, "end": last},
            "group": groups,
        }
    )
    return report.model_dump(mode="json", exclude_none=True)
