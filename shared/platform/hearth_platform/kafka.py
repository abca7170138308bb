"""aiokafka clients configured from settings, so every service talks to the broker the same way."""

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

from .settings import Settings


def make_producer(settings: Settings, client_id: str) -> AIOKafkaProducer:
    return AIOKafkaProducer(
        bootstrap_servers=settings.kafka_bootstrap,
        client_id=client_id,
        acks="all",
        enable_idempotence=settings.kafka_idempotence,
        linger_ms=2,
        max_batch_size=262_144,
        request_timeout_ms=10_000,
    )


def make_consumer(settings: Settings, group: str, topics: tuple[str, ...]) -> AIOKafkaConsumer:
    return AIOKafkaConsumer(
        *topics,
        bootstrap_servers=settings.kafka_bootstrap,
        client_id=group,
        group_id=group,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        session_timeout_ms=settings.kafka_session_timeout_ms,
        heartbeat_interval_ms=settings.kafka_heartbeat_interval_ms,
        max_poll_records=settings.consumer_batch_max,
        fetch_max_wait_ms=100,
        # Larger fetches mean fewer round trips per batch of the size the consumer applies.
        max_partition_fetch_bytes=4_194_304,
    )
