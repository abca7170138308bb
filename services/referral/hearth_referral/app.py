"""Bootstrap of the referral service."""

from pathlib import Path

from hearth_platform.app import ServiceDefinition, create_app

from .api import router
from .claims_api import router as claims_router
from .fhir_api import router as fhir_router
from .handlers import handlers
from .import_api import router as import_router
from .reports_api import router as reports_router
from .tables import metadata, platform
from .worklist_api import router as worklist_router

definition = ServiceDefinition(
    name="referral",
    metadata=metadata,
    platform=platform,
    migrations=Path(__file__).parent / "migrations",
    routers=[import_router, router, fhir_router, reports_router, worklist_router, claims_router],
    handlers=handlers,
    description="Referrals from EHRs, ACOs and case-finding; the quarterback's queue; assessments.",
    # A claims file is streamed into COPY (send it chunked); a referral list is read whole.
    bulk_paths={"/claims/import": 2 * 1024**3, "/referrals/import": 64 * 1024**2},
)
app = create_app(definition)
