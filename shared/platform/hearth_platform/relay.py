"""The outbox relay: publishes committed outbox rows in commit order and marks them sent only
after the broker acknowledged them.

One relay per service holds a Postgres advisory lock, so replicas never publish one member's
events out of order. It wakes on NOTIFY from the outbox trigger, polls as a fallback, and when the
broker is away it keeps the rows and tries again with backoff: nothing is lost, and a crash after
the publish and before marking only causes a redelivery that consumers' inboxes absorb.
"""

import asyncio
import logging
import time
import zlib
from collections import Counter
from typing import Any

import asyncpg
import orjson
from aiokafka import AIOKafkaProducer

from .db import Database, asyncpg_dsn
from .kafka import make_producer
from .kafka_batches import YIELD_EVERY, Record, send_batched
from .metrics import EVENTS_PRODUCED, OUTBOX_BACKLOG
from .tracing import configure_tracing, publishing

log = logging.getLogger("hearth.relay")


class Relay:
    def __init__(self, db: Database) -> None:
        self.db = db
        self.settings = db.settings
        self.service = db.service
        schema = db.platform.schema
        self._select = f"""SELECT id, event_id, type, topic, payload, headers
                           FROM "{schema}".outbox WHERE sent_at IS NULL ORDER BY id LIMIT $1"""
        self._mark = f'UPDATE "{schema}".outbox SET sent_at = now() WHERE id = ANY($1::bigint[])'
        self._backlog = f'SELECT count(*) FROM "{schema}".outbox WHERE sent_at IS NULL'
        self._purge = f"""DELETE FROM "{schema}".outbox
                          WHERE sent_at IS NOT NULL AND sent_at < now() - make_interval(secs => $1)"""
        self._lock_key = zlib.crc32(f"hearth-relay:{schema}".encode())
        self._wake = asyncio.Event()
        self.producer: AIOKafkaProducer | None = None
        self.broker_ok = False
        # Waiting for the relay lock another replica holds: nothing to publish, nothing wrong.
        self.standby = False
        self.published = 0

    async def run(self) -> None:
        try:
            await self._run()
        finally:
            await self._drop_producer()

    async def _run(self) -> None:
        backoff = 0.5
        while True:
            conn: asyncpg.Connection | None = None
            try:
                conn = await asyncpg.connect(asyncpg_dsn(self.settings.database_url))
                await self._hold_lock(conn)
                await conn.add_listener(self.db.platform.notify_channel, self._notified)
                await self._ensure_producer()
                backoff = 0.5
                await self._loop(conn)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                if _is_broker_error(exc):
                    self.broker_ok = False
                log.warning(
                    "relay interrupted, retrying", extra={"error": type(exc).__name__, "retry_in_s": backoff}
                )
                await self._drop_producer()
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, 10.0)
            finally:
                if conn is not None:
                    await _close_quietly(conn)

    async def _hold_lock(self, conn: asyncpg.Connection) -> None:
        while not await conn.fetchval("SELECT pg_try_advisory_lock($1)", self._lock_key):
            self.standby = True
            await asyncio.sleep(self.settings.relay_poll_interval_s)
        self.standby = False

    def _notified(self, *_: Any) -> None:
        self._wake.set()

    async def _ensure_producer(self) -> None:
        if self.producer is None:
            producer = make_producer(self.settings, f"{self.service}-relay")
            try:
                await producer.start()
            except Exception:
                await producer.stop()
                self.broker_ok = False
                raise
            self.producer = producer
        self.broker_ok = True

    async def _drop_producer(self) -> None:
        if self.producer is not None:
            producer, self.producer = self.producer, None
            try:
                await asyncio.wait_for(producer.stop(), 5)
            except Exception:
                log.debug("producer stop failed", exc_info=True)

    async def _loop(self, conn: asyncpg.Connection) -> None:
        last_purge = 0.0
        while True:
            self._wake.clear()
            sent = await self.publish_batch(conn)
            if sent:
                continue
            OUTBOX_BACKLOG.labels(self.service).set(await conn.fetchval(self._backlog))
            if time.monotonic() - last_purge > 60:
                await conn.execute(self._purge, self.settings.outbox_retention_hours * 3600)
                last_purge = time.monotonic()
            try:
                await asyncio.wait_for(self._wake.wait(), self.settings.relay_poll_interval_s)
            except TimeoutError:
                pass

    async def publish_batch(self, conn: asyncpg.Connection) -> int:
        rows = await conn.fetch(self._select, self.settings.relay_batch_max)
        if not rows:
            return 0
        assert self.producer is not None
        records = []
        with publishing(self.service) as trace_row:
            for n, row in enumerate(rows, 1):
                if n % YIELD_EVERY == 0:
                    await asyncio.sleep(0)
                headers = orjson.loads(row["headers"])
                trace_row(row["topic"], headers)
                records.append(
                    Record(
                        row["topic"],
                        key=headers.get("ce_subject", "").encode(),
                        value=row["payload"].encode(),
                        headers=[(k, v.encode()) for k, v in headers.items()],
                    )
                )
            try:
                await send_batched(self.producer, records)
            except Exception:
                self.broker_ok = False
                raise
        self.broker_ok = True
        await conn.execute(self._mark, [row["id"] for row in rows])
        for (topic, event_type), n in Counter((row["topic"], row["type"]) for row in rows).items():
            EVENTS_PRODUCED.labels(self.service, topic, event_type).inc(n)
        self.published += len(rows)
        return len(rows)


def _is_broker_error(exc: BaseException) -> bool:
    return type(exc).__module__.startswith("aiokafka")


async def _close_quietly(conn: asyncpg.Connection) -> None:
    try:
        await asyncio.wait_for(conn.close(), 2)
    except Exception:
        conn.terminate()


def main() -> None:
    """`python -m hearth_platform.relay SERVICE`: the service's relay as its own process, for
    deployments that run the API with HEARTH_RELAY_ENABLED=false (the advisory lock still allows
    only one relay per service to publish)."""
    import argparse
    import importlib

    from .logging import configure_logging
    from .settings import get_settings

    parser = argparse.ArgumentParser(description=main.__doc__)
    parser.add_argument("service", choices=["referral", "eligibility", "billing", "quality"])
    args = parser.parse_args()
    definition = importlib.import_module(f"hearth_{args.service}.app").definition
    settings = get_settings()
    configure_logging(f"{args.service}-relay", settings.log_level)
    configure_tracing(f"{args.service}-relay")

    async def run() -> None:
        db = Database(settings, definition.name, definition.platform)
        try:
            await Relay(db).run()
        finally:
            await db.dispose()

    asyncio.run(run())


if __name__ == "__main__":
    main()
