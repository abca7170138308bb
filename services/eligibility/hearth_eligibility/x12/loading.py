"""The 834 load command: validate the whole file, read its member loops, plan against the
registry, and write every new span in one transaction, or nothing.

Two validators, one verdict (see `guide` for why):
- `full`: pyx12's own map walk over the whole interchange (~0.3 ms a segment);
- `rules`: one pass with rules compiled from pyx12's map of the guide, for the loops Hearth reads
  (guide_834.toml); a file using any other loop of the guide goes to `full` anyway;
- `auto` (the default): `full` up to the guide's `full_validation_max_bytes`, `rules` above.
Either way a malformed file is refused whole, its errors naming segment, position and line.

A big file is written with COPY and locks the registry instead of its members (see
`CoverageRepository.lock_members`); an enrolled member whose coverage the file ends is
disenrolled in the same transaction (`MemberDisenrolled`, coverage lost).
"""

import asyncio
import logging
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Literal

from hearth_platform.db import Database

from ..handlers import end_enrolments_without_coverage
from ..repository import MEMBER_LOCKS_MAX, CoverageRepository
from .enrolment_834 import ADD, CHANGE, TERMINATION, load_plan_codes, plan_enrolment, read_maintenance
from .guide import OutsideSubset, load_guide
from .one_pass import read_checked
from .validation import X12Rejected, X12Segment, read_validated

log = logging.getLogger("hearth.eligibility")

# Read once at import: a malformed mapping or guide stops the service at start-up.
PLAN_CODES = load_plan_codes()
GUIDE = load_guide()

WHAT = "the 834 file"

Validation = Literal["auto", "rules", "full"]


@dataclass(frozen=True)
class EnrolmentFileLoaded:
    members: int
    adds: int
    changes: int
    terminations: int
    spans_added: int
    unchanged: int
    disenrolled: int
    plan_codes_version: str
    validated_by: str


def read_834(text: str, validation: Validation = "auto") -> tuple[list[X12Segment], str]:
    """The file's segments and the validator that accepted them, or `X12Rejected`."""
    if validation == "full" or (validation == "auto" and len(text) <= GUIDE.full_validation_max_bytes):
        return read_validated(text, what=WHAT), "pyx12"
    try:
        return read_checked(text, GUIDE, what=WHAT), f"rules {GUIDE.version} ({GUIDE.map_name})"
    except OutsideSubset as loop:
        log.info("834 uses a loop outside the one-pass rules; pyx12 validates", extra={"loop": str(loop)})
        return read_validated(text, what=WHAT), "pyx12"


async def load_enrolment_file(
    db: Database, text: str, validation: Validation = "auto"
) -> EnrolmentFileLoaded:
    # Validation is CPU-bound; a worker thread keeps health checks answering meanwhile.
    segments, validated_by = await asyncio.to_thread(read_834, text, validation)
    items, errors = read_maintenance(segments, PLAN_CODES)
    del segments
    if errors:
        raise X12Rejected(errors, WHAT)
    members = {i.member_id for i in items}
    async with db.unit_of_work() as uow:
        repo = CoverageRepository(uow.conn)
        await repo.lock_members(members)
        histories = await repo.histories(members)
        plan = plan_enrolment(items, histories, at=datetime.now(UTC))
        if plan.errors:
            raise X12Rejected(plan.errors, WHAT)
        if len(plan.spans) > MEMBER_LOCKS_MAX:
            added = await repo.copy_many(plan.spans)
        else:
            added = await repo.add_many(plan.spans)
        disenrolled = await end_enrolments_without_coverage(uow, histories, plan.spans)
        await uow.commit()
    kinds = [i.maintenance for i in items]
    loaded = EnrolmentFileLoaded(
        members=len(members),
        adds=kinds.count(ADD),
        changes=kinds.count(CHANGE),
        terminations=kinds.count(TERMINATION),
        spans_added=added,
        unchanged=plan.unchanged,
        disenrolled=disenrolled,
        plan_codes_version=PLAN_CODES.version,
        validated_by=validated_by,
    )
    log.info(
        "834 loaded",
        extra={"members": loaded.members, "spans": added, "unchanged": plan.unchanged, "by": validated_by},
    )
    return loaded
