"""Bootstrap of the eligibility service."""

from pathlib import Path

from hearth_platform.app import ServiceDefinition, create_app

from . import fhir_api, x12_api
from .api import router
from .handlers import handlers
from .tables import metadata, platform

definition = ServiceDefinition(
    name="eligibility",
    metadata=metadata,
    platform=platform,
    migrations=Path(__file__).parent / "migrations",
    routers=[router, fhir_api.router, x12_api.router],
    handlers=handlers,
    # An 834 or a roster loads whole, in one request and one transaction, or not at all.
    bulk_paths={"/x12/834": 256 * 2**20, "/coverage/import": 64 * 2**20},
    description="Coverage registry, clinical criteria (versioned data), tiers and enrolment.",
)
app = create_app(definition)
