"""The demo's view of the topics, as a plan's data platform reads them: every event about the
run's members (record key = member id) from the moment the run started, by type. The driver
learns from it which referrals case-finding made, which members were found covered or enrolled,
and when billing has accrued a fee; the report reads referral and assessment dates from it."""

import asyncio
import json
from collections import defaultdict
from typing import Any

from aiokafka import AIOKafkaConsumer, TopicPartition

from hearth_schemas.claims import ClaimLineReceived

TOPICS = ("referral.events", "eligibility.events", "billing.events")


class Tap:
    def __init__(self, bootstrap: str, member_prefix: str) -> None:
        self.bootstrap = bootstrap
        self.prefix = member_prefix.encode()
        self.by_type: dict[str, list[dict[str, Any]]] = defaultdict(list)
        self._consumer: AIOKafkaConsumer | None = None
        self._task: asyncio.Task[None] | None = None
        self._arrived = asyncio.Event()
        self._quiet_since: dict[tuple[str, ...], tuple[tuple[int, ...], float]] = {}

    async def start(self) -> None:
        """Positions at the end of every partition before returning: nothing the run causes is
        missed, nothing from before it is read."""
        consumer = AIOKafkaConsumer(bootstrap_servers=self.bootstrap, group_id=None, fetch_max_wait_ms=100)
        await consumer.start()
        partitions = []
        for topic in TOPICS:
            for _ in range(50):
                found = consumer.partitions_for_topic(topic)
                if found:
                    break
                await consumer._client.force_metadata_update()  # the topic list is fetched lazily
            partitions += [TopicPartition(topic, p) for p in sorted(found or ())]
        consumer.assign(partitions)
        await consumer.seek_to_end(*partitions)
        for tp in partitions:
            await consumer.position(tp)
        self._consumer = consumer
        self._task = asyncio.create_task(self._read())

    async def _read(self) -> None:
        assert self._consumer is not None
        while True:
            batch = await self._consumer.getmany(timeout_ms=200, max_records=5000)
            for records in batch.values():
                for record in records:
                    if not record.key or not record.key.startswith(self.prefix) or record.value is None:
                        continue
                    headers = dict(record.headers)
                    event_type = headers.get("ce_type", b"").decode().split(".")[-2:-1]
                    if event_type:
                        self.by_type[event_type[0]].append(json.loads(record.value))
            if batch:
                self._arrived.set()

    def quiet(self, names: tuple[str, ...], seconds: float) -> bool:
        """True once none of these event types has arrived for `seconds`."""
        counts = tuple(len(self.events(n)) for n in names)
        now = asyncio.get_running_loop().time()
        if self._quiet_since.get(names, (None, 0.0))[0] != counts:
            self._quiet_since[names] = (counts, now)
            return False
        return now - self._quiet_since[names][1] >= seconds

    def events(self, name: str) -> list[dict[str, Any]]:
        return self.by_type.get(name, [])

    async def wait(self, check: Any, what: str, timeout: float) -> Any:
        """Until `check()` is truthy, re-checked as events arrive."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while not (result := check()):
            if loop.time() > deadline:
                seen = {name: len(events) for name, events in self.by_type.items()}
                raise TimeoutError(f"demo: timed out after {timeout:.0f}s waiting for {what}; seen {seen}")
            self._arrived.clear()
            try:
                await asyncio.wait_for(self._arrived.wait(), 0.5)
            except TimeoutError:
                pass
        return result

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
        if self._consumer is not None:
            await self._consumer.stop()


class ClaimsFeed:
    """The plan's data platform publishing claim lines on `claims.lines` as CloudEvents."""

    def __init__(self, bootstrap: str) -> None:
        self.bootstrap = bootstrap
        self._producer: Any = None

    async def __call__(self, lines: list[ClaimLineReceived]) -> None:
        from aiokafka import AIOKafkaProducer

        from hearth_platform.cloudevents import encode, new_envelope

        if self._producer is None:
            self._producer = AIOKafkaProducer(bootstrap_servers=self.bootstrap, acks="all", linger_ms=20)
            await self._producer.start()
        sends = []
        for event in lines:
            key, value, headers = encode(new_envelope(event, source="/hearth-demo/claims-feed"))
            sends.append(await self._producer.send(event.topic(), value=value, key=key, headers=headers))
        await asyncio.gather(*sends)

    async def stop(self) -> None:
        if self._producer is not None:
            await self._producer.stop()
