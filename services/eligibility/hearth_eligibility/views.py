"""Read-side queries: what the API shows about a member's coverage, decisions and enrolment."""

from collections.abc import Sequence
from dataclasses import asdict, dataclass
from datetime import UTC, date, datetime
from typing import Any

from hearth_platform.app import Runtime
from hearth_platform.db import Database, UnitOfWork
from hearth_platform.errors import NotFound

from .access import EVERYONE, Audience
from .coverage import CoverageHistory, CoverageSpan, NoCoverage
from .domain import NeverEnrolled
from .repository import (
    CoverageRepository,
    DeterminationRepository,
    EnrolmentRepository,
    coverage_in_force,
)


def span_view(span: CoverageSpan) -> dict[str, Any]:
    return asdict(span)


async def member_history(db: Database, member_id: str, audience: Audience = EVERYONE) -> CoverageHistory:
    """One member's coverage history (empty when `audience` may not see the member, as for one
    the registry does not know) in ONE round trip (an index scan on member_id). A single
    SELECT needs no transaction, so the connection runs in autocommit and skips BEGIN and
    ROLLBACK, two round trips of three."""
    async with db.engine.connect() as conn:
        conn = await conn.execution_options(isolation_level="AUTOCOMMIT")
        return await CoverageRepository(conn).history(member_id, audience)


@dataclass(frozen=True, slots=True)
class CoverageQuestion:
    """One coverage check: which span covers `member_id` on `on`, as known at `known_at` (now
    when None), for a caller who sees `audience`."""

    member_id: str
    on: date
    known_at: datetime | None
    audience: Audience


async def coverage_answers(
    uow: UnitOfWork, questions: Sequence[CoverageQuestion]
) -> list[dict[str, Any] | None]:
    """The set-based coverage check the coalescer runs: every check that arrived while the last
    batch was answered, in one statement on one pooled connection."""
    return await coverage_in_force(uow.conn, [(q.member_id, q.on, q.known_at, q.audience) for q in questions])


async def coverage_on(runtime: Runtime, question: CoverageQuestion) -> dict[str, Any]:
    """The span in force, or 404 (as well when the caller may not see the member). The hot read
    path: concurrent checks share one query (see `hearth_platform.coalesce`), so under load a
    check costs a share of one round trip and never a connection of its own."""
    span = await runtime.coalescer(coverage_answers).submit(question)
    if span is None:
        raise NoCoverage(question.member_id, question.on)
    return span


class MemberNotFound(NotFound):
    def __init__(self, member_id: str) -> None:
        super().__init__(f"no coverage is recorded for member {member_id}")


async def coverage_history(db: Database, member_id: str, audience: Audience) -> list[dict[str, Any]]:
    """Every span ever recorded, superseded ones included, each marked whether it is in effect.
    The plan gets an empty list for a member without coverage; a provider or ACO gets 404 for a
    member it does not see (the list would be empty), so no id is confirmed either way."""
    async with db.unit_of_work() as uow:
        history = await CoverageRepository(uow.conn).history(member_id, audience)
    if not history.spans and not audience.sees_all:
        raise MemberNotFound(member_id)
    current = {s.span_id for s in history.current()}
    return [{**span_view(s), "in_effect": s.span_id in current} for s in history.spans]


async def determinations(db: Database, member_id: str, audience: Audience) -> list[dict[str, Any]]:
    """The member's decisions; an empty list, as for a member never decided, when `audience` may
    not see the member."""
    async with db.unit_of_work() as uow:
        return await DeterminationRepository(uow.conn).for_member(member_id, audience)


async def enrolment(db: Database, member_id: str, audience: Audience) -> dict[str, Any]:
    """The member's current enrolment, or the most recent one if it has ended, with its history;
    404 as for a member never enrolled when `audience` may not see the member."""
    async with db.unit_of_work() as uow:
        repo = EnrolmentRepository(uow.conn)
        latest = await repo.latest(member_id, audience=audience)
        if latest is None:
            raise NeverEnrolled(member_id)
        view = {k: v for k, v in asdict(latest).items() if k != "changes"}
        if latest.ended_on is None:
            view["status"] = "enrolled"
        else:
            view["status"] = "disenrolling" if latest.ended_on > datetime.now(UTC).date() else "disenrolled"
        view["history"] = await repo.changes(latest.enrollment_id)
        return view
