"""Billing's consumer of `claims.lines` and the economic evaluation's read, kept apart from the
ledger's handlers: claims cost feeds only the evaluation, never an invoice.

The handler registers on billing's one handler registry (`handlers.handlers`) when this module is
imported (app.py imports it). Redelivery is harmless twice over: the platform's inbox drops a
repeated event, and a claim line is an upsert on (claim, line), so a correction replaces it.
"""

from functools import lru_cache

from hearth_platform.db import Database, UnitOfWork
from hearth_platform.handlers import Received
from hearth_schemas import ClaimLineReceived

from .economics import (
    EconomicRow,
    EconomicsSettings,
    claim_cost_row,
    evaluate,
    latest_per_line,
    program_totals,
    read_economics,
)
from .economics_repository import EconomicsRepository
from .handlers import handlers
from .periods import Month


@lru_cache
def economics_settings() -> EconomicsSettings:
    return read_economics()


@handlers.on(ClaimLineReceived)
async def on_claim_line_received(uow: UnitOfWork, items: list[Received[ClaimLineReceived]]) -> None:
    """Keep each line's paid amount, month and stay days: one upsert for the run."""
    settings = economics_settings()
    rows = latest_per_line(claim_cost_row(i.envelope.id, i.event, settings) for i in items)
    await EconomicsRepository(uow.conn).add_claim_costs(rows)


async def economic_evaluation(
    db: Database, first: Month, last: Month, months_before: int, provider_org_id: str | None
) -> list[EconomicRow]:
    """One row per organization paid in the window; for the whole plan (provider_org_id None) a
    last row for the program (provider_org_id null)."""
    async with db.unit_of_work() as uow:
        totals = await EconomicsRepository(uow.conn).totals(first, last, months_before, provider_org_id)
    rows = [evaluate(t, months_before) for t in totals]
    if provider_org_id is None:
        rows.append(evaluate(program_totals(totals), months_before))
    return rows
