"""The consumer every service uses: at-least-once delivery made exactly-once in effect.

For each Kafka batch: decode and validate every record (what cannot be read goes to the
dead-letter topic with the reason and the original headers), then in ONE transaction record each
event in the inbox (a duplicate is skipped there), run the handlers, park the events that arrived
before what they depend on, and stage the outbox rows; commit; only then commit the offsets.
A failure of the database or broker is retried with backoff without losing the batch; a batch
whose handler fails is retried event by event so that one bad event cannot hold up the others.
"""

import asyncio
import gc
import logging
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from itertools import chain, groupby
from typing import Any, NamedTuple, Protocol

import asyncpg
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.errors import KafkaError
from pydantic import ValidationError
from sqlalchemy import delete, func, insert, select
from sqlalchemy.exc import DBAPIError, InterfaceError

from hearth_schemas.topics import dead_letter_topic

from .cloudevents import UndecodableEvent, decode
from .db import Database, UnitOfWork, json_rows
from .errors import HearthError
from .handlers import HandlerRegistry, Received
from .kafka import make_consumer, make_producer
from .metrics import CONSUMER_LAG, DEAD_LETTERS, EVENTS_CONSUMED, HANDLER_SECONDS, PARKED
from .tracing import processing

log = logging.getLogger("hearth.consumer")
# Tracked objects per event of a batch the young generation may hold before it is collected: some
# thirty per event live for two batches (see `_tune_garbage_collector`), with room to spare.
YOUNG_OBJECTS_PER_EVENT = 100
# Records decoded between two chances for the batch being applied to send its next statement.
_YIELD_EVERY = 100


@dataclass(frozen=True, slots=True)
class RawRecord:
    """The parts of a Kafka record the consumer needs (also rebuilt from the parked table)."""

    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes | None
    headers: tuple[tuple[str, bytes], ...]


class Record(Protocol):
    """What the consumer reads of a record: aiokafka's `ConsumerRecord` as fetched, or a
    `RawRecord` rebuilt from the parked table."""

    @property
    def topic(self) -> str: ...
    @property
    def partition(self) -> int: ...
    @property
    def offset(self) -> int: ...
    @property
    def key(self) -> bytes | None: ...
    @property
    def value(self) -> bytes | None: ...
    @property
    def headers(self) -> Sequence[tuple[str, bytes]]: ...


class Item(NamedTuple):
    """One decoded event and the record it came in (a tuple: built once per consumed event)."""

    record: Record
    received: Received[Any]


def is_infrastructure_fault(exc: BaseException) -> bool:
    """Database or broker unreachable: retry the same work later, never dead-letter for it."""
    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(
            seen,
            OSError
            | TimeoutError
            | KafkaError
            | InterfaceError
            | asyncpg.PostgresConnectionError
            | asyncpg.InterfaceError
            | asyncpg.exceptions.OperatorInterventionError,
        ):
            return True
        if isinstance(seen, DBAPIError) and seen.connection_invalidated:
            return True
        seen = seen.__cause__ or seen.__context__
    return False


def _reason(exc: BaseException) -> str:
    if isinstance(exc, ValidationError):
        # Field and message only: pydantic's input echo could carry PHI.
        parts = [f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors()[:5]]
        return "schema validation failed: " + "; ".join(parts)
    return f"{type(exc).__name__}: {exc}"[:500]


class Consumer:
    def __init__(self, db: Database, registry: HandlerRegistry, group: str | None = None) -> None:
        self.db = db
        self.settings = db.settings
        self.service = db.service
        self.registry = registry
        self.group = group or db.settings.consumer_group or f"hearth-{db.service}"
        self.topics = registry.topics
        self.dlq_topic = dead_letter_topic(db.service)
        self.tables = db.platform
        self.kafka: AIOKafkaConsumer | None = None
        self._dlq: AIOKafkaProducer | None = None
        self._parked = 0
        self._last_sweep = 0.0
        self._counters: dict[tuple[str, str, str], Any] = {}
        self.running = False

    async def run(self) -> None:
        await self._retrying(self._count_parked)
        _tune_garbage_collector(self.settings.consumer_batch_max)
        while True:
            try:
                self.kafka = make_consumer(self.settings, self.group, self.topics)
                await self.kafka.start()
                self.running = True
                await self._loop(self.kafka)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                self.running = False
                log.warning("consumer interrupted, restarting", extra={"error": type(exc).__name__})
                await asyncio.sleep(1.0)
            finally:
                self.running = False
                await self._stop_clients()

    async def _stop_clients(self) -> None:
        for client in (self.kafka, self._dlq):
            if client is not None:
                try:
                    await asyncio.wait_for(client.stop(), 5)
                except Exception:
                    log.debug("client stop failed", exc_info=True)
        self.kafka = self._dlq = None

    async def _loop(self, kafka: AIOKafkaConsumer) -> None:
        """Batches are applied one after another, in order, and a batch's offsets are committed only
        after its transaction; decoding the next batch overlaps the database work of the one before,
        and committing a batch's offsets overlaps applying the next (should the process die in
        between, the batch comes again and the inbox absorbs it)."""
        applying: asyncio.Task[None] | None = None
        offsets: dict[TopicPartition, int] = {}
        try:
            while True:
                batch = await kafka.getmany(timeout_ms=500, max_records=self.settings.consumer_batch_max)
                records = list(chain.from_iterable(batch.values()))
                items = await self.decode_all(records)
                applied: dict[TopicPartition, int] | None = None
                if applying is not None:
                    await applying
                    applying, applied = None, offsets
                if records:
                    offsets = {tp: rs[-1].offset + 1 for tp, rs in batch.items() if rs}
                    applying = asyncio.create_task(self.apply(items))
                if applied is not None:
                    await kafka.commit(applied)
                if not records:
                    await self._observe_lag(kafka)
                    if self._parked and time.monotonic() - self._last_sweep > 5:
                        await self._sweep(None)
        finally:
            if applying is not None and not applying.done():
                applying.cancel()
                await asyncio.gather(applying, return_exceptions=True)

    async def decode_all(self, records: Sequence[Record]) -> list[Item]:
        """Decode and validate a batch. The next batch is decoded while the one before commits, so
        this yields every few records to let that batch's statements go out."""
        items: list[Item] = []
        read = self._read
        for n, record in enumerate(records, 1):
            try:
                item = read(record)
            except (UndecodableEvent, ValidationError) as exc:
                await self._reject(record, exc)
                item = None
            if item is not None:
                items.append(item)
            if not n % _YIELD_EVERY:
                await asyncio.sleep(0)
        return items

    async def apply(self, items: list[Item]) -> None:
        if not items:
            return
        with processing(self.service, self.group, [i.received.envelope for i in items]) as traced:
            if traced is not None:
                # Tracing on: each event's handler sees its process span as the event's trace
                # parent, so what it publishes continues the trace from there.
                items = [
                    Item(i.record, replace(i.received, envelope=env))
                    for i, env in zip(items, traced, strict=True)
                ]
            await self._apply_batch(items)
        if self._parked:
            await self._sweep({i.received.envelope.subject for i in items})

    async def _apply_batch(self, items: list[Item]) -> None:
        try:
            await self._retrying(lambda: self._apply(items))
        except Exception:
            log.warning("batch failed, retrying event by event", exc_info=True)
            for item in items:
                await self._apply_one(item)

    async def _sweep(self, subjects: set[str] | None) -> None:
        try:
            await self._retrying(lambda: self.retry_parked(subjects))
        except Exception:
            # A parked event that still fails stays parked (visible in metrics), never lost.
            log.warning("retry of parked events failed", exc_info=True)

    def _read(self, record: Record) -> Item | None:
        """The event of a record, None when this service does not handle its type; raises
        `UndecodableEvent` or `ValidationError` for what goes to the dead-letter topic."""
        env = decode(record.key, record.value, record.headers)
        handler = self.registry.get(env.type)
        if handler is None:
            self._counter(record.topic, env.type, "ignored").inc()
            return None
        return Item(record, Received(env, handler.event.model_validate(env.data)))

    async def _reject(self, record: Record, exc: UndecodableEvent | ValidationError) -> None:
        if isinstance(exc, UndecodableEvent):
            await self.dead_letter(record, "undecodable", str(exc))
        else:
            await self.dead_letter(record, "schema", _reason(exc))

    async def _decode(self, record: Record) -> Item | None:
        try:
            return self._read(record)
        except (UndecodableEvent, ValidationError) as exc:
            await self._reject(record, exc)
            return None

    async def _apply(self, items: Sequence[Item]) -> None:
        async with self.db.unit_of_work() as uow:
            fresh = await self._claim(uow, items)
            parked = await self._handle(uow, fresh)
            await uow.commit()
        if parked:
            self._parked += len(parked)
            PARKED.labels(self.service).set(self._parked)
        counts = _counts(_without(fresh, parked), "processed")
        counts.update(_counts(parked, "parked"))
        counts.update(_counts(_without(items, fresh), "duplicate"))
        self._record(counts)

    async def _apply_one(self, item: Item) -> None:
        for attempt in range(1, self.settings.consumer_max_attempts + 1):
            try:
                await self._retrying(lambda: self._apply([item]))
                return
            except (HearthError, ValidationError, ValueError, LookupError) as exc:
                await self.dead_letter(item.record, "handler", _reason(exc))
                return
            except Exception as exc:
                if attempt == self.settings.consumer_max_attempts:
                    await self.dead_letter(item.record, "handler", f"failed {attempt} times: {_reason(exc)}")
                    return
                await asyncio.sleep(self.settings.consumer_retry_backoff_s * 2 ** (attempt - 1))

    async def _claim(self, uow: UnitOfWork, items: Sequence[Item]) -> list[Item]:
        """Insert each event into the inbox; the ones already there were processed before."""
        unique: dict[tuple[str, str], Item] = {}
        for item in items:
            env = item.received.envelope
            unique.setdefault((env.source, env.id), item)
        rows = [
            {"source": s, "id": i, "type": item.received.envelope.type} for (s, i), item in unique.items()
        ]
        result = await uow.conn.execute(
            self.tables.inbox_claim, {"group": self.group, "rows": json_rows(rows)}
        )
        seen_before = {(r.event_source, r.event_id) for r in result}
        return [it for key, it in unique.items() if key not in seen_before]

    async def _handle(self, uow: UnitOfWork, items: Sequence[Item]) -> list[Item]:
        """Run the handlers over runs of same-type events, in order; park what is not ready."""
        not_ready: list[Item] = []
        for event_type, run_iter in groupby(items, key=lambda i: i.received.envelope.type):
            run = list(run_iter)
            handler = self.registry.get(event_type)
            assert handler is not None
            started = time.perf_counter()
            waiting = await handler.fn(uow, [i.received for i in run]) or []
            HANDLER_SECONDS.labels(self.service, event_type).observe(time.perf_counter() - started)
            waiting_ids = {id(r) for r in waiting}
            not_ready.extend(i for i in run if id(i.received) in waiting_ids)
        if not_ready:
            await uow.conn.execute(
                insert(self.tables.parked),
                [
                    {
                        "consumer_group": self.group,
                        "subject": i.received.envelope.subject,
                        "event_type": i.received.envelope.type,
                        "topic": i.record.topic,
                        "key": i.record.key,
                        "value": i.record.value,
                        "headers": {k: v.decode() for k, v in i.record.headers},
                        "reason": "arrived before what it depends on",
                    }
                    for i in not_ready
                ],
            )
        return not_ready

    async def retry_parked(self, subjects: Iterable[str] | None = None) -> None:
        """Give parked events another go, in arrival order, in one transaction."""
        self._last_sweep = time.monotonic()
        parked = self.tables.parked
        query = select(parked).where(parked.c.consumer_group == self.group).order_by(parked.c.id)
        if subjects is not None:
            query = query.where(parked.c.subject.in_(list(subjects)))
        async with self.db.unit_of_work() as uow:
            rows = (await uow.conn.execute(query.with_for_update(skip_locked=True))).all()
            if not rows:
                return
            await uow.conn.execute(delete(parked).where(parked.c.id.in_([r.id for r in rows])))
            items = []
            for row in rows:
                record = RawRecord(
                    row.topic,
                    -1,
                    -1,
                    row.key,
                    row.value,
                    tuple((k, v.encode()) for k, v in row.headers.items()),
                )
                item = await self._decode(record)
                if item is not None:
                    items.append(item)
            still_waiting = await self._handle(uow, items)
            await uow.commit()
        self._parked += len(still_waiting) - len(rows)
        PARKED.labels(self.service).set(self._parked)
        self._record(_counts(_without(items, still_waiting), "processed"))

    async def _count_parked(self) -> None:
        async with self.db.engine.connect() as conn:
            parked = self.tables.parked
            self._parked = (
                await conn.execute(select(func.count()).where(parked.c.consumer_group == self.group))
            ).scalar_one()
        PARKED.labels(self.service).set(self._parked)

    async def dead_letter(self, record: Record, kind: str, reason: str) -> None:
        """Send the record as it came, with the reason, and wait for the broker's acknowledgement."""
        headers = list(record.headers) + [
            (k, v.encode())
            for k, v in {
                "hearth_dlq_reason": reason,
                "hearth_dlq_kind": kind,
                "hearth_dlq_topic": record.topic,
                "hearth_dlq_partition": str(record.partition),
                "hearth_dlq_offset": str(record.offset),
                "hearth_dlq_group": self.group,
                "hearth_dlq_time": datetime.now(UTC).isoformat(),
            }.items()
        ]

        async def send() -> None:
            if self._dlq is None:
                producer = make_producer(self.settings, f"{self.service}-dlq")
                await producer.start()
                self._dlq = producer
            await self._dlq.send_and_wait(
                self.dlq_topic, value=record.value or b"", key=record.key, headers=headers
            )

        await self._retrying(send)
        DEAD_LETTERS.labels(self.service, record.topic, kind).inc()
        self._counter(record.topic, _type_of(record), "dead_lettered").inc()
        log.warning(
            "event dead-lettered",
            extra={
                "kind": kind,
                "topic": record.topic,
                "partition": record.partition,
                "offset": record.offset,
                "reason": reason,
            },
        )

    async def _retrying(self, work: Callable[[], Awaitable[None]]) -> None:
        """Run `work`, retrying with backoff for as long as the infrastructure is unreachable."""
        delay = self.settings.consumer_retry_backoff_s
        while True:
            try:
                await work()
                return
            except Exception as exc:
                if not is_infrastructure_fault(exc):
                    raise
                log.warning(
                    "infrastructure unavailable, retrying",
                    extra={"error": type(exc).__name__, "retry_in_s": delay},
                )
                await asyncio.sleep(delay)
                delay = min(delay * 2, 5.0)

    async def _observe_lag(self, kafka: AIOKafkaConsumer) -> None:
        for tp in kafka.assignment():
            highwater = kafka.highwater(tp)
            if highwater is None:
                continue
            lag = max(highwater - await kafka.position(tp), 0)
            CONSUMER_LAG.labels(self.service, self.group, tp.topic, str(tp.partition)).set(lag)

    def _record(self, counts: Counter[tuple[str, str, str]]) -> None:
        for (topic, event_type, outcome), n in counts.items():
            if n:
                self._counter(topic, event_type, outcome).inc(n)

    def _counter(self, topic: str, event_type: str, outcome: str) -> Any:
        """The labelled counter of consumed events, looked up once per label set (a service that
        ignores most of a topic counts every record it skips)."""
        key = (topic, event_type, outcome)
        child = self._counters.get(key)
        if child is None:
            child = self._counters[key] = EVENTS_CONSUMED.labels(
                self.service, self.group, topic, event_type, outcome
            )
        return child


def _tune_garbage_collector(batch_max: int) -> None:
    """A busy consumer allocates some thirty tracked objects per event that live for two batches
    and are then freed by reference counting. With the collector's defaults, a young collection
    runs every 700 of them and scans them all again while they are still alive, and full
    collections run every few thousand events: together they cost more CPU than decoding the
    events (measured: a quarter of a replica's time). So everything alive at start-up (modules,
    schemas, pools) is frozen out of the collector's reach, a young collection waits until more
    objects are alive than two batches hold (`YOUNG_OBJECTS_PER_EVENT` per event of the largest
    batch), and full collections run ten times less often. Cycles are still collected, only later;
    a young collection then scans at most that many objects (a few tens of milliseconds)."""
    gc.freeze()
    young, middle, old = gc.get_threshold()
    if (young, middle, old) == (700, 10, 10):  # the interpreter's defaults, not an operator's choice
        gc.set_threshold(max(young, YOUNG_OBJECTS_PER_EVENT * batch_max), middle, 100)


def _without(items: Sequence[Item], taken: Sequence[Item]) -> Sequence[Item]:
    """`items` less the very objects in `taken`, which holds some of them, each once (usually
    none or all of them: then no copy, and no set of a batch's ids)."""
    if not taken:
        return items
    if len(taken) == len(items):
        return []
    ids = {id(i) for i in taken}
    return [i for i in items if id(i) not in ids]


def _counts(items: Sequence[Item], outcome: str) -> Counter[tuple[str, str, str]]:
    return Counter((i.record.topic, i.received.envelope.type, outcome) for i in items)


def _type_of(record: Record) -> str:
    for k, v in record.headers:
        if k == "ce_type":
            return v.decode(errors="replace")[:100]
    return "unknown"


__all__ = ["Consumer", "RawRecord", "TopicPartition", "is_infrastructure_fault"]
