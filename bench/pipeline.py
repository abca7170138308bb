"""Target (b): the pipeline's end-to-end rate. Billing's consumer reads AssessmentCompleted
events, records each in its inbox, accrues the assessment fee and stages AssessmentFeeAccrued in
its outbox, all in one transaction per batch, then commits the offsets: events consumed and
committed per second, with one replica of the service's consumer and with two (two processes in
one consumer group, as two replicas or two workers of the service would run). Then the relay
publishes that outbox: events relayed per second."""

import asyncio
import multiprocessing
import os
import time
import uuid
from collections.abc import Awaitable, Callable
from datetime import date
from pathlib import Path
from typing import Any, NamedTuple

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from sqlalchemy import func, select

from hearth_billing.app import definition
from hearth_platform.cloudevents import encode, new_envelope
from hearth_platform.consumer import Consumer
from hearth_platform.db import Database
from hearth_platform.ids import new_traceparent
from hearth_platform.migrations import upgrade
from hearth_platform.relay import Relay
from hearth_platform.settings import Settings
from hearth_schemas import AssessmentCompleted

from .infra import BenchInfra

BATCH = 2000
TOPIC = "referral.events"


def assessment(i: int, run: str) -> AssessmentCompleted:
    return AssessmentCompleted(
        assessment_id=f"A-{run}-{i}",
        referral_id=f"R-{run}-{i}",
        member_id=f"M-{run}-{i}",
        provider_org_id=f"org-{i % 20}",
        assessed_on=date(2026, 10, 1 + i % 28),
        mode="in_person",
        decision="enrol" if i % 3 else "decline",
        karnofsky=50,
        surrogate_identified=bool(i % 2),
    )


class Produced(NamedTuple):
    """Where a run's events landed: the offset of the first one on each partition, and the id of
    the last one on each partition (the run is committed once those are in the inbox)."""

    first_offsets: dict[TopicPartition, int]
    last_ids: list[str]


async def _produce(bootstrap: str, count: int, run: str) -> Produced:
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all", linger_ms=5, max_batch_size=262_144)
    await producer.start()
    pending = []
    ids = []
    for i in range(count):
        # As the referral service's relay publishes it: with the trace context it continues.
        envelope = new_envelope(assessment(i, run), source="/hearth/referral", traceparent=new_traceparent())
        key, value, headers = encode(envelope)
        pending.append(await producer.send(TOPIC, value, key=key, headers=headers))
        ids.append(envelope.id)
    first: dict[TopicPartition, int] = {}
    last: dict[TopicPartition, tuple[int, str]] = {}
    for sent, event_id in zip(await asyncio.gather(*pending), ids, strict=True):
        tp = TopicPartition(sent.topic, sent.partition)
        first[tp] = min(first.get(tp, sent.offset), sent.offset)
        if sent.offset >= last.get(tp, (-1, ""))[0]:
            last[tp] = (sent.offset, event_id)
    await producer.stop()
    return Produced(first, [event_id for _, event_id in last.values()])


async def _commit_positions(bootstrap: str, group: str, positions: dict[TopicPartition, int]) -> None:
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, group_id=group, enable_auto_commit=False)
    await consumer.start()
    try:
        consumer.assign(list(positions))
        await consumer.commit(positions)
    finally:
        await consumer.stop()


def _consumer_replica(database_url: str, bootstrap: str, group: str) -> None:
    """One replica of billing's consumer, in its own process."""

    async def run() -> None:
        settings = Settings(database_url=database_url, kafka_bootstrap=bootstrap, consumer_batch_max=BATCH)
        await Consumer(
            Database(settings, definition.name, definition.platform), definition.handlers, group
        ).run()

    asyncio.run(run())


async def _wait_for(predicate: Callable[[], Awaitable[bool]], timeout: float) -> float:
    deadline = time.perf_counter() + timeout
    while time.perf_counter() < deadline:
        if await predicate():
            return time.perf_counter()
        await asyncio.sleep(0.05)
    raise TimeoutError("the pipeline did not finish in time")


async def start_group_at_end(bootstrap: str, group: str, topic: str) -> None:
    """A new group reads only what is produced after this (earlier runs' events stay unread).
    The broker's end offsets (Tansu) can stop short of a partition's last batch, so the records
    past them are read until none comes for half a second, and the group starts after them."""
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, group_id=group, enable_auto_commit=False)
    await consumer.start()
    try:
        partitions = [TopicPartition(topic, p) for p in sorted(consumer.partitions_for_topic(topic) or ())]
        consumer.assign(partitions)
        await consumer.seek_to_end(*partitions)
        while await consumer.getmany(timeout_ms=500):
            pass
        await consumer.commit({tp: await consumer.position(tp) for tp in partitions})
    finally:
        await consumer.stop()


def _cpu_seconds(pid: int | None) -> float:
    """User + system CPU time of a process so far (Linux /proc; 0 where there is none)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def _consume_rate(db: Database, infra: BenchInfra, count: int, replicas: int) -> tuple[float, float]:
    """(events committed per second, CPU microseconds the replicas spent per event), both from
    the first committed batch to the last."""
    run = uuid.uuid4().hex[:6]
    group = f"bench-{run}"
    await start_group_at_end(infra.kafka_bootstrap, group, TOPIC)
    produced = await _produce(infra.kafka_bootstrap, count, run)
    # The broker's end offsets (Tansu) can stop short of a partition's last batch, which would
    # hand the group the tail of the previous run and end the count early: the group starts at
    # this run's first offsets as the producer was told them.
    await _commit_positions(infra.kafka_bootstrap, group, produced.first_offsets)
    inbox = definition.platform.inbox

    async def inbox_rows() -> int:
        async with db.engine.connect() as conn:
            query = select(func.count()).where(inbox.c.consumer_group == group)
            return int((await conn.execute(query)).scalar_one())

    async def partitions_done() -> int:
        """How many partitions have their last event committed. A partition's batches commit in
        order, so its last event in the inbox means all of it is. A few key lookups: counting
        the group's rows instead reads every row's heap tuple (not yet all-visible), some 40 ms
        of Postgres CPU per look at 50,000 rows, and the bench looks every 50 ms."""
        async with db.engine.connect() as conn:
            query = select(func.count()).where(
                inbox.c.consumer_group == group, inbox.c.event_id.in_(produced.last_ids)
            )
            return int((await conn.execute(query)).scalar_one())

    context = multiprocessing.get_context("spawn")
    processes = [
        context.Process(target=_consumer_replica, args=(infra.database_url, infra.kafka_bootstrap, group))
        for _ in range(replicas)
    ]
    for process in processes:
        process.start()
    try:
        first = await _wait_for(lambda: _at_least(inbox_rows, 1), 120)
        first_count = await inbox_rows()
        cpu_first = sum(_cpu_seconds(p.pid) for p in processes)
        done = await _wait_for(lambda: _at_least(partitions_done, len(produced.last_ids)), 600)
        cpu_done = sum(_cpu_seconds(p.pid) for p in processes)
    finally:
        for process in processes:
            process.kill()
            process.join()
    committed = await inbox_rows()
    if committed != count:
        raise RuntimeError(f"{committed} of the run's {count} events are in the inbox")
    events = count - first_count
    return events / max(done - first, 1e-9), 1e6 * (cpu_done - cpu_first) / max(events, 1)


async def pipeline(infra: BenchInfra, count: int = 50_000) -> dict[str, Any]:
    settings = Settings(
        database_url=infra.database_url, kafka_bootstrap=infra.kafka_bootstrap, relay_batch_max=BATCH
    )
    await upgrade(settings.database_url, definition.schema, definition.migrations)
    db = Database(settings, definition.name, definition.platform)
    if definition.on_startup is not None:
        await definition.on_startup(db)
    one, cpu_one = await _consume_rate(db, infra, count, replicas=1)
    two, cpu_two = await _consume_rate(db, infra, count, replicas=2)

    outbox = definition.platform.outbox

    async def backlog() -> int:
        async with db.engine.connect() as conn:
            return int(
                (await conn.execute(select(func.count()).where(outbox.c.sent_at.is_(None)))).scalar_one()
            )

    staged = await backlog()
    relay = Relay(db)
    started = time.perf_counter()
    relay_task = asyncio.create_task(relay.run())
    finished = await _wait_for(lambda: _at_most(backlog, 0), 600)
    relay_task.cancel()
    await asyncio.gather(relay_task, return_exceptions=True)
    await db.dispose()
    return {
        "events": count,
        "batch_max": BATCH,
        "consumed_per_s_one_replica": round(one),
        "consumed_per_s": round(two),
        "replica_cpu_us_per_event_one_replica": round(cpu_one, 1),
        "replica_cpu_us_per_event": round(cpu_two, 1),
        "replicas": 2,
        "outbox_rows_staged": staged,
        "relayed_per_s": round(staged / max(finished - started, 1e-9)),
        "note": "rates from the first committed batch to the last (group join excluded); "
        "replicas are processes in one consumer group over 4 partitions; replica CPU is the "
        "consumer processes' user+system time per event over the same span (Postgres and the "
        "broker not included)",
    }


async def _at_least(f: Callable[[], Awaitable[int]], n: int) -> bool:
    return await f() >= n


async def _at_most(f: Callable[[], Awaitable[int]], n: int) -> bool:
    return await f() <= n
