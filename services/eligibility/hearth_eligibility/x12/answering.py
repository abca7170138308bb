"""The 270 command: read the inquiry, look up every subscriber's coverage history in one query,
and write the 271. Read-only, so one autocommit round trip like the other coverage checks."""

import asyncio
from datetime import UTC, datetime

from hearth_platform.db import Database

from ..access import Audience
from ..repository import CoverageRepository
from .eligibility_270 import answer, read_inquiry


async def answer_inquiry(db: Database, text: str, audience: Audience) -> str:
    """The 271; subscribers `audience` may not see are answered as unknown (not in force)."""
    inquiry = await asyncio.to_thread(read_inquiry, text)
    async with db.engine.connect() as conn:
        conn = await conn.execution_options(isolation_level="AUTOCOMMIT")
        histories = await CoverageRepository(conn).histories(inquiry.member_ids, audience)
    at = datetime.now(UTC)
    return answer(inquiry, histories, at=at, control_number=int(at.timestamp()) % 1_000_000_000)
