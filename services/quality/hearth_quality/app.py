"""Bootstrap of the quality service."""

from pathlib import Path

from hearth_platform.app import ServiceDefinition, create_app

from .api import router
from .handlers import handlers
from .intake_api import router as intake_router
from .tables import metadata, platform

definition = ServiceDefinition(
    name="quality",
    metadata=metadata,
    platform=platform,
    migrations=Path(__file__).parent / "migrations",
    routers=[router, intake_router],
    handlers=handlers,
    description="Quality facts, the measure engine and performance scores that feed payment.",
)
app = create_app(definition)
