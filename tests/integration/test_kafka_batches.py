"""The relay's batched publish over the real broker: every record arrives once, on the partition the
default (murmur2) partitioner gives its key, in the order it was sent for that key, across batches
that fill up."""

import uuid
from collections import defaultdict

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.partitioner import DefaultPartitioner

from hearth_devstack.topics import create_topics
from hearth_platform.kafka_batches import Record, send_batched

from .stack import Stack


async def test_batched_records_keep_each_keys_order_on_the_default_partitioners_partition(stack: Stack):
    bootstrap = stack.infra.kafka_bootstrap
    topic = f"test-batches-{uuid.uuid4().hex[:8]}"
    await create_topics(bootstrap, [topic], partitions=4)
    keys = [f"M-{n}".encode() for n in range(50)]
    # 3,000 records of 1 KiB: several batches per partition (16 KiB batches), keys interleaved
    records = [
        Record(topic, keys[n % len(keys)], b"%06d" % n + b"x" * 1018, [("ce_id", b"%d" % n)])
        for n in range(3000)
    ]
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all", max_batch_size=16_384)
    await producer.start()
    try:
        await send_batched(producer, records)
    finally:
        await producer.stop()

    consumer = AIOKafkaConsumer(
        topic, bootstrap_servers=bootstrap, auto_offset_reset="earliest", group_id=None
    )
    await consumer.start()
    received: dict[bytes, list[int]] = defaultdict(list)
    partition_of: dict[bytes, set[int]] = defaultdict(set)
    try:
        while sum(len(v) for v in received.values()) < len(records):
            batch = await consumer.getmany(timeout_ms=2000)
            assert batch, f"only {sum(len(v) for v in received.values())} records arrived"
            for tp, messages in batch.items():
                for m in messages:
                    received[m.key].append(int(m.value[:6]))
                    partition_of[m.key].add(tp.partition)
                    assert dict(m.headers)["ce_id"] == b"%d" % int(m.value[:6])
    finally:
        await consumer.stop()

    partitioner, every = DefaultPartitioner(), [0, 1, 2, 3]
    assert {k: sorted(p) for k, p in partition_of.items()} == {
        k: [partitioner(k, every, every)] for k in keys
    }
    for n, key in enumerate(keys):
        assert received[key] == list(range(n, 3000, len(keys))), key
    assert len({p for ps in partition_of.values() for p in ps}) == 4
