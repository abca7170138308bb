"""Dead letters: inspect the records on `<service>.dlq` and replay one to its original topic.

What the page may show is an allow-list of headers: the reason and where the record came from.
Never the value (an event payload can hold PHI) and never the key (a member id).

Replaying sends the original key, value and headers (less the `hearth_dlq_*` ones the consumer
added) back to the original topic. Every group reading that topic sees the record again; the ones
that already processed it skip it, because consumers deduplicate on ce_source + ce_id.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Iterable, Sequence
from datetime import UTC, datetime
from typing import TypeVar

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.errors import KafkaError
from aiokafka.structs import ConsumerRecord
from pydantic import BaseModel, ConfigDict, Field

from hearth_platform.errors import Conflict, HearthError, NotFound
from hearth_schemas.topics import CLAIMS_LINES, EVENT_TOPICS

DLQ_PREFIX = "hearth_dlq_"
# Topics a dead letter may be replayed to: the ones Hearth consumers read. A header naming any
# other topic is refused, whoever wrote the record.
REPLAYABLE_TOPICS = frozenset((*EVENT_TOPICS, CLAIMS_LINES))

T = TypeVar("T")


class BrokerUnavailable(HearthError):
    status_code = 503
    code = "broker_unavailable"


class DeadLetter(BaseModel):
    """A dead letter as the page shows it: where it is, why it is there, where it came from."""

    partition: int
    offset: int
    reason: str | None = None
    kind: str | None = None
    original_topic: str | None = None
    original_partition: int | None = None
    original_offset: int | None = None
    group: str | None = None
    dead_lettered_at: str | None = None
    ce_type: str | None = None
    ce_id: str | None = None
    ce_source: str | None = None


class DeadLetters(BaseModel):
    service: str
    topic: str
    records: list[DeadLetter]
    # True when the topic holds more than the newest records read, or the read ran out of time.
    truncated: bool


class ReplayRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    partition: int = Field(ge=0)
    offset: int = Field(ge=0)


class Replayed(BaseModel):
    dead_letter: DeadLetter
    topic: str
    partition: int
    offset: int
    message: str


def describe(partition: int, offset: int, headers: Iterable[tuple[str, bytes]]) -> DeadLetter:
    """The allow-listed headers of a dead-letter record; everything else stays on the broker."""
    h = {k: v.decode(errors="replace") for k, v in headers}
    return DeadLetter(
        partition=partition,
        offset=offset,
        reason=h.get("hearth_dlq_reason"),
        kind=h.get("hearth_dlq_kind"),
        original_topic=h.get("hearth_dlq_topic"),
        original_partition=_int(h.get("hearth_dlq_partition")),
        original_offset=_int(h.get("hearth_dlq_offset")),
        group=h.get("hearth_dlq_group"),
        dead_lettered_at=h.get("hearth_dlq_time"),
        ce_type=h.get("ce_type"),
        ce_id=h.get("ce_id"),
        ce_source=h.get("ce_source"),
    )


def original_headers(headers: Sequence[tuple[str, bytes]]) -> list[tuple[str, bytes]]:
    """The record's headers as the producer sent them: without what the dead-lettering added."""
    return [(k, v) for k, v in headers if not k.startswith(DLQ_PREFIX)]


def _int(value: str | None) -> int | None:
    try:
        return int(value) if value is not None else None
    except ValueError:
        return None


async def _bounded(work: Awaitable[T], timeout_s: float) -> T:
    try:
        return await asyncio.wait_for(work, timeout_s)
    except (TimeoutError, KafkaError, OSError) as exc:
        raise BrokerUnavailable(f"the broker did not answer in time ({type(exc).__name__})") from None


def _consumer(bootstrap: str) -> AIOKafkaConsumer:
    return AIOKafkaConsumer(
        bootstrap_servers=bootstrap,
        group_id=None,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        fetch_max_wait_ms=100,
        client_id="hearth-dashboard",
    )


async def _partitions(consumer: AIOKafkaConsumer, topic: str) -> list[TopicPartition]:
    if topic not in await consumer.topics():
        raise NotFound(f"topic {topic} does not exist")
    return [TopicPartition(topic, p) for p in sorted(consumer.partitions_for_topic(topic) or ())]


async def read_dead_letters(
    bootstrap: str, service: str, topic: str, *, max_records: int, timeout_s: float
) -> DeadLetters:
    """The newest `max_records` dead letters, newest first, read within `timeout_s`."""
    consumer = _consumer(bootstrap)
    try:
        await _bounded(consumer.start(), timeout_s)
        return await _bounded(_read(consumer, service, topic, max_records, timeout_s), timeout_s * 2)
    finally:
        await consumer.stop()


async def _read(
    consumer: AIOKafkaConsumer, service: str, topic: str, max_records: int, timeout_s: float
) -> DeadLetters:
    partitions = await _partitions(consumer, topic)
    consumer.assign(partitions)
    begin = await consumer.beginning_offsets(partitions)
    end = await consumer.end_offsets(partitions)
    truncated = False
    for tp in partitions:
        start = max(begin[tp], end[tp] - max_records)
        truncated |= start > begin[tp]
        consumer.seek(tp, start)
    found: list[tuple[int, DeadLetter]] = []
    deadline = asyncio.get_running_loop().time() + timeout_s
    pending = {tp for tp in partitions if end[tp] > begin[tp]}
    while pending:
        remaining = deadline - asyncio.get_running_loop().time()
        if remaining <= 0:
            truncated = True
            break
        batch = await consumer.getmany(*pending, timeout_ms=int(min(remaining, 0.5) * 1000))
        for tp, records in batch.items():
            for r in records:
                if r.offset < end[tp]:
                    found.append((r.timestamp, describe(r.partition, r.offset, r.headers)))
        for tp in list(pending):
            if await consumer.position(tp) >= end[tp]:
                pending.discard(tp)
    found.sort(key=lambda item: (item[0], item[1].partition, item[1].offset), reverse=True)
    truncated |= len(found) > max_records
    return DeadLetters(
        service=service, topic=topic, records=[d for _, d in found[:max_records]], truncated=truncated
    )


async def replay(bootstrap: str, topic: str, request: ReplayRequest, *, timeout_s: float) -> Replayed:
    """Re-publish one dead letter to the topic it came from, as it was first published."""
    consumer = _consumer(bootstrap)
    try:
        await _bounded(consumer.start(), timeout_s)
        record = await _bounded(_fetch(consumer, topic, request), timeout_s)
    finally:
        await consumer.stop()
    dead_letter = describe(record.partition, record.offset, record.headers)
    target = dead_letter.original_topic
    if target is None:
        raise Conflict(
            f"{topic} partition {request.partition} offset {request.offset} names no original topic"
        )
    if target not in REPLAYABLE_TOPICS:
        raise Conflict(f"{target} is not a topic Hearth consumers read; not replayed")
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all", client_id="hearth-dashboard")
    try:
        await _bounded(producer.start(), timeout_s)
        sent = await _bounded(
            producer.send_and_wait(
                target, value=record.value, key=record.key, headers=original_headers(record.headers)
            ),
            timeout_s,
        )
    finally:
        await producer.stop()
    return Replayed(
        dead_letter=dead_letter,
        topic=target,
        partition=sent.partition,
        offset=sent.offset,
        message=(
            f"replayed {topic} partition {request.partition} offset {request.offset} to {target} "
            f"partition {sent.partition} offset {sent.offset} at {datetime.now(UTC).isoformat()}; "
            "consumers that already processed it skip it (deduplicated on ce_source + ce_id)"
        ),
    )


async def _fetch(
    consumer: AIOKafkaConsumer, topic: str, request: ReplayRequest
) -> ConsumerRecord[bytes, bytes]:
    partitions = await _partitions(consumer, topic)
    tp = TopicPartition(topic, request.partition)
    if tp not in partitions:
        raise NotFound(f"{topic} has no partition {request.partition}")
    consumer.assign([tp])
    begin = (await consumer.beginning_offsets([tp]))[tp]
    end = (await consumer.end_offsets([tp]))[tp]
    if not begin <= request.offset < end:
        raise NotFound(f"{topic} partition {request.partition} has no offset {request.offset}")
    consumer.seek(tp, request.offset)
    record = await consumer.getone(tp)
    if record.offset != request.offset:
        raise NotFound(f"{topic} partition {request.partition} has no offset {request.offset}")
    return record
