"""Create Hearth's topics explicitly, on the embedded broker or on a real Kafka cluster.

Brokers auto-create a topic on first use with their own default partition count (4 on Tansu, 1 on
a stock Kafka), and the partition count fixes how one member's events are ordered and spread: so
every topic is created up front with `hearth_schemas.topics.PARTITIONS`.
"""

from __future__ import annotations

from collections.abc import Iterable

from aiokafka.admin import AIOKafkaAdminClient, NewTopic

from hearth_schemas.topics import ALL_TOPICS, PARTITIONS

_TOPIC_ALREADY_EXISTS = 36


class TopicCreationError(RuntimeError):
    """The broker refused to create a topic for a reason other than its existing already."""


async def create_topics(
    bootstrap: str,
    topics: Iterable[str] = ALL_TOPICS,
    partitions: int = PARTITIONS,
    replication_factor: int = 1,
) -> list[str]:
    """Create the topics that do not exist yet; return the ones created. Idempotent, and safe when
    another process creates the same topics at the same time."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, request_timeout_ms=15000)
    await admin.start()
    try:
        existing = set(await admin.list_topics())
        missing = [t for t in dict.fromkeys(topics) if t not in existing]
        if not missing:
            return []
        response = await admin.create_topics(
            [
                NewTopic(name=t, num_partitions=partitions, replication_factor=replication_factor)
                for t in missing
            ]
        )
    finally:
        await admin.close()
    created = []
    for result in response.to_object()["topic_errors"]:
        topic, code = result["topic"], result["error_code"]
        if code == 0:
            created.append(topic)
        elif code != _TOPIC_ALREADY_EXISTS:
            reason = result.get("error_message") or f"error code {code}"
            raise TopicCreationError(f"creating topic {topic!r} on {bootstrap}: {reason}")
    return created


def main(argv: list[str] | None = None) -> int:
    """`python -m hearth_devstack.topics --bootstrap HOST:9092 [--replication-factor 3]`: create
    Hearth's topics on an existing cluster (docker-compose and Kubernetes run this once)."""
    import argparse
    import asyncio

    parser = argparse.ArgumentParser(description=main.__doc__)
    parser.add_argument("--bootstrap", required=True, help="Kafka bootstrap servers")
    parser.add_argument("--replication-factor", type=int, default=1)
    args = parser.parse_args(argv)
    created = asyncio.run(create_topics(args.bootstrap, replication_factor=args.replication_factor))
    print("created: " + (", ".join(created) if created else "nothing (all topics exist)"))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
