"""Invoice outputs that leave billing as files: CSV for the plan's finance tools, and the
configuration (`exports.toml`) that names the plan in the X12 remittance and classifies money in
the FHIR value-based performance report.

The CSV has one row per invoice line, in the order of the JSON lines, with the invoice's columns
repeated so each row stands alone, and `source_event_ids` (space-separated) naming the events that
produced the line: a reader can follow any amount back to the facts behind it.
"""

import csv
import io
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

from hearth_platform.errors import Invalid

DEFAULT_EXPORTS_FILE = Path(__file__).parent / "exports.toml"

CSV_COLUMNS = (
    "invoice_id",
    "month",
    "provider_org_id",
    "member_id",
    "kind",
    "tier",
    "service_date",
    "quantity",
    "unit_amount",
    "amount",
    "contract_id",
    "contract_version",
    "adjusted_month",
    "reason",
    "source_event_ids",
)


@dataclass(frozen=True)
class X12Settings:
    usage_indicator: str
    sender_qualifier: str
    sender_id: str
    receiver_qualifier: str
    payer_name: str
    payer_id_qualifier: str
    payer_id: str
    payer_identifier: str
    transaction_handling: str
    payment_method: str


@dataclass(frozen=True)
class FhirSettings:
    contract_base_url: str
    payment_stream_system: str
    metric_system: str
    measure_system: str
    payment_streams: Mapping[str, str]


@dataclass(frozen=True)
class ExportSettings:
    version: int
    x12: X12Settings
    fhir: FhirSettings


def read_exports(path: Path = DEFAULT_EXPORTS_FILE) -> ExportSettings:
    """Read and check the export configuration; a missing or unknown key is refused by name."""
    try:
        document = tomllib.loads(path.read_text(encoding="utf-8"))
        x12, fhir = document["x12"], document["fhir"]
        streams = dict(fhir["payment_streams"])
        settings = ExportSettings(
            version=int(document["version"]),
            x12=X12Settings(**{k: str(v) for k, v in x12.items()}),
            fhir=FhirSettings(
                **{k: str(v) for k, v in fhir.items() if k != "payment_streams"}, payment_streams=streams
            ),
        )
    except (OSError, tomllib.TOMLDecodeError, KeyError, TypeError, ValueError) as exc:
        raise Invalid(f"export configuration {path.name} is invalid: {exc!r}") from None
    if settings.x12.usage_indicator not in ("T", "P"):
        raise Invalid(f"export configuration {path.name}: x12.usage_indicator must be T or P")
    return settings


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, list | tuple):
        return " ".join(str(v) for v in value)
    return str(value)


def invoice_csv(invoice: Mapping[str, Any]) -> str:
    """The invoice as CSV (RFC 4180, a header row, CRLF line ends as the csv module writes)."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(CSV_COLUMNS)
    for line in invoice["lines"]:
        row = {**line, **{k: invoice[k] for k in ("invoice_id", "month", "provider_org_id")}}
        # as in the JSON: 1 for a whole month, 0.387097 for 12 days of 31
        row["quantity"] = format(Decimal(row["quantity"]).normalize(), "f")
        writer.writerow([_cell(row.get(column)) for column in CSV_COLUMNS])
    return out.getvalue()
