"""The audit trail: who read or changed member data, through which client, what, when and why.

Every authenticated request is one row in the owning service's `audit` table: the client, its
organization, the route and the concrete path (which names the member or resource), the status,
the purpose of use when the client gives one (`X-Purpose-Of-Use`, HL7 codes such as TREAT,
HPAYMT, HOPERAT) and the correlation id that ties it to the events it caused. Never a request
body: bodies carry names and notes.

Rows are written in batches off the request path, within `FLUSH_S` of the response; a crash of
the process loses at most that window (the rows of a graceful stop are flushed).
"""

import asyncio
import contextlib
import logging
from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from sqlalchemy import Table, select

from .auth import Forbidden, Principal, Scope
from .db import Database

log = logging.getLogger("hearth.audit")

FLUSH_S = 0.2
MAX_BUFFER = 100_000
PURPOSES = frozenset({"TREAT", "HPAYMT", "HOPERAT", "HQUALIMP", "PUBHLTH", "HRESCH", "ETREAT", "HSYSADMIN"})


#: The audit table's columns, in the order of a buffered row.
COLUMNS = (
    "at",
    "client",
    "org",
    "org_type",
    "method",
    "route",
    "path",
    "member_id",
    "status",
    "purpose",
    "correlation_id",
)
Row = tuple[datetime, str, str, str, str, str, str, str | None, int, str | None, str | None]


class AuditTrail:
    """Buffers audit rows (a tuple each, on the request path) and writes each batch with one
    COPY (binary, no per-row statement and no JSON to build and parse)."""

    def __init__(self, db: Database) -> None:
        self.db = db
        self.table: Table = db.platform.audit
        self._rows: list[Row] = []
        self._wake = asyncio.Event()

    def record(
        self,
        principal: Principal,
        *,
        method: str,
        route: str,
        path: str,
        member_id: str | None,
        status: int,
        purpose: str | None,
        correlation_id: str | None,
    ) -> None:
        if len(self._rows) >= MAX_BUFFER:
            log.error("audit buffer full; the database has been unreachable too long")
            return
        # A percent-encoded NUL decodes into the path, and Postgres text cannot hold it: one such
        # row would fail every later batch.
        if "\x00" in path:
            path = path.replace("\x00", "\ufffd")
        if member_id is not None and "\x00" in member_id:
            member_id = member_id.replace("\x00", "\ufffd")
        self._rows.append(
            (
                datetime.now(UTC),
                principal.client,
                principal.org,
                principal.org_type,
                method,
                route,
                path,
                member_id,
                status,
                purpose if purpose in PURPOSES else None,
                correlation_id,
            )
        )
        if len(self._rows) >= 1000:
            self._wake.set()

    async def run(self) -> None:
        try:
            while True:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), FLUSH_S)
                self._wake.clear()
                await self.flush()
        finally:
            await asyncio.shield(self.flush())

    async def flush(self) -> None:
        rows, self._rows = self._rows, []
        if not rows:
            return
        try:
            async with self.db.engine.connect() as conn:
                raw = (await conn.get_raw_connection()).driver_connection
                assert raw is not None
                # One COPY is one statement: the batch lands whole or not at all.
                await raw.copy_records_to_table(
                    self.table.name, schema_name=self.table.schema, columns=COLUMNS, records=rows
                )
        except Exception:
            log.warning("audit write failed; keeping the rows for the next try", exc_info=True)
            self._rows = rows + self._rows


def audit_router() -> APIRouter:
    router = APIRouter(tags=["audit"])

    @router.get("/audit")
    async def audit_log(
        principal: Annotated[Principal, Depends(Scope("ops:read"))],
        request_db: Annotated[Database, Depends(_db)],
        member_id: Annotated[str | None, Query(max_length=64)] = None,
        client: Annotated[str | None, Query(max_length=200)] = None,
        since: datetime | None = None,
        limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    ) -> list[dict[str, Any]]:
        """Who read or changed what, newest first: the plan's administrators only."""
        if not principal.is_plan:
            raise Forbidden("the audit log is for the plan's administrators")
        table = request_db.platform.audit
        query = select(table).order_by(table.c.id.desc()).limit(limit)
        if member_id is not None:
            query = query.where(table.c.member_id == member_id)
        if client is not None:
            query = query.where(table.c.client == client)
        if since is not None:
            query = query.where(table.c.at >= since)
        async with request_db.engine.connect() as conn:
            return [dict(row._mapping) for row in await conn.execute(query)]

    return router


async def _db(request: Request) -> Database:
    return request.app.state.runtime.db  # type: ignore[no-any-return]
