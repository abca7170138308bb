"""The 834 load command: validate the whole file, read its member loops, plan against the
registry, and write every new span in one transaction, or nothing."""

import asyncio
import logging
from dataclasses import dataclass
from datetime import UTC, datetime

from hearth_platform.db import Database

from ..repository import CoverageRepository
from .enrolment_834 import ADD, CHANGE, TERMINATION, load_plan_codes, plan_enrolment, read_maintenance
from .validation import X12Rejected, read_validated

log = logging.getLogger("hearth.eligibility")

# Read once at import: a malformed mapping stops the service at start-up.
PLAN_CODES = load_plan_codes()

WHAT = "the 834 file"


@dataclass(frozen=True)
class EnrolmentFileLoaded:
    members: int
    adds: int
    changes: int
    terminations: int
    spans_added: int
    unchanged: int
    plan_codes_version: str


async def load_enrolment_file(db: Database, text: str) -> EnrolmentFileLoaded:
    # pyx12 is CPU-bound; a worker thread keeps health checks answering meanwhile.
    segments = await asyncio.to_thread(read_validated, text, what=WHAT)
    items, errors = read_maintenance(segments, PLAN_CODES)
    if errors:
        raise X12Rejected(errors, WHAT)
    members = {i.member_id for i in items}
    async with db.unit_of_work() as uow:
        repo = CoverageRepository(uow.conn)
        await repo.lock_members(members)
        plan = plan_enrolment(items, await repo.histories(members), at=datetime.now(UTC))
        if plan.errors:
            raise X12Rejected(plan.errors, WHAT)
        added = await repo.add_many(plan.spans)
        await uow.commit()
    kinds = [i.maintenance for i in items]
    loaded = EnrolmentFileLoaded(
        members=len(members),
        adds=kinds.count(ADD),
        changes=kinds.count(CHANGE),
        terminations=kinds.count(TERMINATION),
        spans_added=added,
        unchanged=plan.unchanged,
        plan_codes_version=PLAN_CODES.version,
    )
    log.info("834 loaded", extra={"members": loaded.members, "spans": added, "unchanged": plan.unchanged})
    return loaded
