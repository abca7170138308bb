"""Bootstrap of the billing service.

Contracts: at start-up the contract files are validated and written to the `contracts` tables
(new versions inserted, changed ones refused); from then on the database is the one place the
handlers and the close read rates from, so every replica prices alike.
"""

from pathlib import Path

from pydantic_settings import BaseSettings, SettingsConfigDict

from hearth_platform.app import ServiceDefinition, create_app
from hearth_platform.db import Database

from .api import router
from .dme_api import router as dme_router
from .economics_api import router as economics_router
from .economics_handlers import economics_settings
from .export_api import export_settings
from .export_api import router as export_router
from .handlers import handlers, load_contracts
from .tables import metadata, platform


class BillingSettings(BaseSettings):
    """`HEARTH_BILLING_CONTRACTS_DIR` points at a plan's own contract files."""

    model_config = SettingsConfigDict(env_prefix="HEARTH_BILLING_", extra="ignore")

    contracts_dir: Path = Path(__file__).parent / "contracts"


async def on_startup(db: Database) -> None:
    await load_contracts(db, BillingSettings().contracts_dir)
    # A bad export configuration stops the start, not a provider's download later.
    export_settings()
    economics_settings()


definition = ServiceDefinition(
    name="billing",
    metadata=metadata,
    platform=platform,
    migrations=Path(__file__).parent / "migrations",
    routers=[router, export_router, dme_router, economics_router],
    handlers=handlers,
    write_scope="billing:admin",
    description="Contracts, the ledger of fees and enrolment spans, month close and invoices.",
    on_startup=on_startup,
)
app = create_app(definition)
