"""HTTP routes for an invoice's outputs besides its JSON (`GET /invoices/{id}`):

- CSV: `GET /invoices/{id}?format=csv`, or `Accept: text/csv` (one row per line, with the ids of
  the events behind it);
- X12 5010 820 remittance: `GET /invoices/{id}/remittance.x12` (`application/edi-x12`);
- Da Vinci value-based performance MeasureReport: `GET /invoices/{id}/measure-report`
  (`application/fhir+json`).
"""

from functools import lru_cache
from pathlib import Path as FilePath
from typing import Annotated

from fastapi import APIRouter, Path
from fastapi.responses import JSONResponse, Response
from pydantic_settings import BaseSettings, SettingsConfigDict

from hearth_platform.app import DatabaseDep
from hearth_platform.auth import CallerDep

from . import handlers
from .access import visible_invoice
from .exports import DEFAULT_EXPORTS_FILE, ExportSettings, read_exports
from .remittance_x12 import remittance_820
from .value_report import performance_report

router = APIRouter(tags=["billing"])
InvoiceId = Annotated[str, Path(max_length=64)]


class ExportsFile(BaseSettings):
    """`HEARTH_BILLING_EXPORTS_FILE` points at a plan's own export configuration."""

    model_config = SettingsConfigDict(env_prefix="HEARTH_BILLING_", extra="ignore")

    exports_file: FilePath = DEFAULT_EXPORTS_FILE


@lru_cache
def export_settings() -> ExportSettings:
    return read_exports(ExportsFile().exports_file)


@router.get(
    "/invoices/{invoice_id}/remittance.x12",
    response_class=Response,
    responses={200: {"content": {"application/edi-x12": {}}, "description": "An X12 5010 820 (005010X218)."}},
)
async def get_remittance(invoice_id: InvoiceId, db: DatabaseDep, caller: CallerDep) -> Response:
    """The invoice as the X12 820 remittance a plan sends with a capitation payment."""
    invoice = visible_invoice(caller, await handlers.invoice_view(db, invoice_id))
    return Response(remittance_820(invoice, export_settings().x12), media_type="application/edi-x12")


@router.get(
    "/invoices/{invoice_id}/measure-report",
    response_class=JSONResponse,
    responses={200: {"content": {"application/fhir+json": {}}, "description": "A FHIR R4 MeasureReport."}},
)
async def get_measure_report(invoice_id: InvoiceId, db: DatabaseDep, caller: CallerDep) -> JSONResponse:
    """The invoice as a Da Vinci value-based performance MeasureReport with payment streams."""
    invoice = visible_invoice(caller, await handlers.invoice_view(db, invoice_id))
    settings = export_settings()
    report = performance_report(invoice, settings.fhir, settings.x12.payer_name)
    return JSONResponse(report, media_type="application/fhir+json")
