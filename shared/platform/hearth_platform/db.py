"""The database of one service and its unit of work.

The unit of work owns the transaction: whatever a handler changes and the events it publishes
commit together or not at all, through the same connection. That is the transactional outbox:
`publish` only stages an outbox row; the relay sends it after the commit.
"""

import contextvars
import functools
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import asyncpg
import orjson
from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine

from hearth_schemas import Event

from .cloudevents import Envelope, ce_headers
from .ids import new_id, new_traceparent
from .settings import Settings
from .tables import PlatformTables


@dataclass(frozen=True, slots=True)
class TraceContext:
    """What links an event to the request or event that caused it."""

    correlation_id: str | None = None
    causation_id: str | None = None
    traceparent: str | None = None

    @classmethod
    def caused_by(cls, env: Envelope) -> "TraceContext":
        return cls(env.correlation_id or env.id, env.id, env.traceparent)


# Set by the HTTP middleware for the duration of a request.
current_trace: contextvars.ContextVar[TraceContext] = contextvars.ContextVar(
    "current_trace",
    default=TraceContext(),  # noqa: B039 (frozen, so sharing is safe)
)


def asyncpg_dsn(database_url: str) -> str:
    """The same database as a plain libpq URL, for asyncpg connections outside SQLAlchemy."""
    return make_url(database_url).set(drivername="postgresql").render_as_string(hide_password=False)


def _json(value: Any) -> str:
    return orjson.dumps(value).decode()


def json_rows(rows: list[dict[str, Any]]) -> str:
    """Rows for a set-based insert through `json_to_recordset(CAST(:rows AS json))` (or the jsonb
    twins): one bound value for the whole batch. Dates travel as ISO strings; pass Decimals as
    strings. Plain json is the cheaper of the two for rows read once (no jsonb tree built)."""
    return _json(rows)


class Database:
    def __init__(self, settings: Settings, service: str, platform: PlatformTables) -> None:
        self.settings = settings
        self.service = service
        self.source = f"/hearth/{service}"
        self.platform = platform
        self.engine: AsyncEngine = create_async_engine(
            settings.database_url,
            pool_size=settings.db_pool_size,
            max_overflow=settings.db_pool_size,
            pool_pre_ping=False,
            json_serializer=_json,
            json_deserializer=orjson.loads,
        )

    @asynccontextmanager
    async def unit_of_work(self, trace: TraceContext | None = None) -> AsyncIterator["UnitOfWork"]:
        async with self.engine.connect() as conn:
            uow = UnitOfWork(self, conn, trace or current_trace.get())
            await conn.begin()
            try:
                yield uow
            finally:
                if conn.in_transaction():
                    await conn.rollback()

    async def ping(self) -> None:
        async with self.engine.connect() as conn:
            await conn.execute(text("SELECT 1"))

    async def dispose(self) -> None:
        await self.engine.dispose()


# (event_id, aggregatetype, aggregateid, type, topic, payload JSON, headers): one outbox row.
_Staged = tuple[str, str, str, str, str, str, dict[str, str]]
_OUTBOX_COLUMNS = ("event_id", "aggregatetype", "aggregateid", "type", "topic", "payload", "headers")
#: From this many events, a unit of work writes its outbox rows with COPY rather than INSERT.
COPY_FROM_ROWS = 50


@functools.cache
def _event_meta(event_class: type[Event]) -> tuple[str, str, str]:
    """(CloudEvents type, dataschema, topic) of an event class, computed once per class."""
    return event_class.event_type(), event_class.dataschema(), event_class.topic()


class UnitOfWork:
    """One transaction. Handlers read and write through `conn` and stage events with `publish`;
    nothing is visible, and nothing is published, until `commit`."""

    def __init__(self, db: Database, conn: AsyncConnection, trace: TraceContext) -> None:
        self.db = db
        self.conn = conn
        self.trace = trace
        self._staged: list[_Staged] = []
        self._time: str | None = None

    def publish(
        self,
        event: Event,
        *,
        caused_by: Envelope | None = None,
        trace: TraceContext | None = None,
        aggregatetype: str | None = None,
    ) -> str:
        """Stage `event` in the outbox. Its trace context comes from the event that caused it, or
        the one given (a coalesced request's own), or the unit of work's."""
        if caused_by is not None:
            correlation_id, causation_id = caused_by.correlation_id or caused_by.id, caused_by.id
            traceparent = caused_by.traceparent
        else:
            trace = trace or self.trace
            correlation_id, causation_id, traceparent = (
                trace.correlation_id,
                trace.causation_id,
                trace.traceparent,
            )
        event_type, dataschema, topic = _event_meta(type(event))
        event_id = new_id()
        subject = event.subject()
        if self._time is None:
            # One transaction, one moment: every event it stages happened when it commits
            # (formatted once, not once per event).
            self._time = datetime.now(UTC).isoformat()
        headers = ce_headers(
            id=event_id,
            source=self.db.source,
            type=event_type,
            time=self._time,
            subject=subject,
            dataschema=dataschema,
            correlation_id=correlation_id or event_id,
            causation_id=causation_id,
            traceparent=traceparent or new_traceparent(),
        )
        self._staged.append(
            (
                event_id,
                aggregatetype or event.name,
                subject,
                event_type,
                topic,
                event.model_dump_json(exclude_none=True),
                headers,
            )
        )
        return event_id

    async def flush(self) -> None:
        """Write the staged events to the outbox, in the order they were published: a few in one
        INSERT, a consumer batch's worth by COPY (a third less database time per row)."""
        if not self._staged:
            return
        if len(self._staged) < COPY_FROM_ROWS:
            rows = [
                {
                    "event_id": event_id,
                    "aggregatetype": aggregatetype,
                    "aggregateid": aggregateid,
                    "type": event_type,
                    "topic": topic,
                    # The outbox keeps both as the JSON text written here (see tables.JsonText).
                    "payload": payload,
                    "headers": _json(headers),
                }
                for event_id, aggregatetype, aggregateid, event_type, topic, payload, headers in self._staged
            ]
            await self.conn.execute(self.db.platform.outbox_insert, {"rows": json_rows(rows)})
        else:
            await self._copy_to_outbox()
        self._staged = []

    async def _copy_to_outbox(self) -> None:
        driver = (await self.conn.get_raw_connection()).driver_connection
        assert driver is not None
        if not driver.is_in_transaction():
            # SQLAlchemy opens the transaction with the first statement: the rows must be in it.
            await self.conn.execute(text("SELECT 1"))
        records = [(*row[:6], _json(row[6])) for row in self._staged]
        try:
            await driver.copy_records_to_table(
                "outbox", schema_name=self.db.platform.schema, columns=_OUTBOX_COLUMNS, records=records
            )
        except (OSError, asyncpg.InterfaceError, asyncpg.PostgresConnectionError):
            # Past SQLAlchemy, so it did not see the connection go: the pool must not lend it again.
            await self.conn.invalidate()
            raise

    async def commit(self) -> None:
        await self.flush()
        await self.conn.commit()
