"""Baseline (a): raw aiokafka produce and consume rates on the same broker, on a topic with as
many partitions as Hearth's topics, read by one consumer: 500-byte values without headers. A
Hearth event is a ~300-byte JSON value with ~400 bytes in ten CloudEvents headers, which aiokafka
parses one by one, so the raw rate is the easier of the two and the ratio to it, if anything,
strict."""

import asyncio
import time
import uuid
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic

from hearth_schemas.topics import PARTITIONS


async def kafka_raw(bootstrap: str, count: int = 200_000, size: int = 500) -> dict[str, Any]:
    topic = f"bench.raw.{uuid.uuid4().hex[:6]}"
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    await admin.create_topics([NewTopic(topic, PARTITIONS, 1)])
    await admin.close()
    payload = b"x" * size
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all", linger_ms=5, max_batch_size=262_144)
    await producer.start()
    started = time.perf_counter()
    pending = []
    for i in range(count):
        pending.append(await producer.send(topic, payload, key=str(i % 10_000).encode()))
        if len(pending) >= 10_000:
            await asyncio.gather(*pending)
            pending = []
    await asyncio.gather(*pending)
    produce_s = time.perf_counter() - started
    await producer.stop()

    consumer = AIOKafkaConsumer(
        topic,
        bootstrap_servers=bootstrap,
        group_id=None,
        auto_offset_reset="earliest",
        max_partition_fetch_bytes=4_194_304,
    )
    await consumer.start()
    seen = 0
    first: float | None = None
    while seen < count:
        batch = await consumer.getmany(timeout_ms=1000, max_records=5000)
        if first is None and batch:
            first = time.perf_counter()
        seen += sum(len(v) for v in batch.values())
    consume_s = time.perf_counter() - (first or started)
    await consumer.stop()
    return {
        "records": count,
        "record_bytes": size,
        "produce_per_s": round(count / produce_s),
        "consume_per_s": round(count / consume_s),
    }
