"""Bootstrap of the quality service."""

from pathlib import Path

from hearth_platform.app import ServiceDefinition, create_app

from .api import router
from .fhir_api import router as fhir_router
from .handlers import handlers
from .intake_api import router as intake_router
from .recompute import start
from .tables import metadata, platform

definition = ServiceDefinition(
    name="quality",
    metadata=metadata,
    platform=platform,
    migrations=Path(__file__).parent / "migrations",
    routers=[router, intake_router, fhir_router],
    handlers=handlers,
    description="Quality facts, the measure engine and performance scores that feed payment.",
    on_startup=start,
)
app = create_app(definition)
