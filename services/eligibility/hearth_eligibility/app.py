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
    description="Coverage registry, clinical criteria (versioned data), tiers and enrolment.",
)
app = create_app(definition)
