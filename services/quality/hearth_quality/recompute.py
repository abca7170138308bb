"""The background task that recomputes periods after late facts.

Late facts only mark their period (handlers.py, in the transaction that stores them); this task
wakes up a few times per settle interval and recomputes each period whose first late fact has
waited `settle_seconds`, so a burst of facts makes one new run. It lives as long as the service's
event loop; an error is logged and retried on the next tick (the marks stay until a run commits).
"""

import asyncio
import logging

from hearth_platform.db import Database

from .handlers import recompute_settled
from .measures import PARAMETERS

log = logging.getLogger("hearth.quality.recompute")
SETTLE_SECONDS = float(PARAMETERS["recompute"]["settle_seconds"])
_tasks: set[asyncio.Task[None]] = set()


async def recompute_forever(db: Database, settle_seconds: float = SETTLE_SECONDS) -> None:
    tick = max(0.2, settle_seconds / 4)
    while True:
        try:
            await recompute_settled(db, settle_seconds)
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("late-data recomputation failed; retrying on the next tick")
        await asyncio.sleep(tick)


async def start(db: Database) -> None:
    """`ServiceDefinition.on_startup`: start the task (kept referenced until the loop ends)."""
    task = asyncio.create_task(recompute_forever(db), name="quality-recompute")
    _tasks.add(task)
    task.add_done_callback(_tasks.discard)
