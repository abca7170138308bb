"""The system under test: the four services as real processes over the session's Postgres and
broker, plus a tap that records every event on every topic so tests can wait for what a user
(or a plan's data platform) would see."""

import asyncio
import signal
import subprocess
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import asyncpg
import httpx
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from sqlalchemy.engine import make_url

from hearth_devstack.services import start_service, wait_healthy_async
from hearth_devstack.testing import Infra
from hearth_platform.cloudevents import Envelope, UndecodableEvent, decode, encode, new_envelope
from hearth_platform.db import asyncpg_dsn
from hearth_schemas import Event
from hearth_schemas.topics import ALL_TOPICS

SERVICES = ("referral", "eligibility", "billing", "quality")


@dataclass
class Record:
    topic: str
    key: bytes | None
    value: bytes | None
    headers: dict[str, str]
    envelope: Envelope | None


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Stack:
    infra: Infra
    log_dir: Path
    ports: dict[str, int] = field(default_factory=dict)
    processes: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)
    records: list[Record] = field(default_factory=list)
    _arrived: asyncio.Condition = field(default_factory=asyncio.Condition)
    _tap: asyncio.Task[None] | None = None
    _producer: AIOKafkaProducer | None = None

    def url(self, service: str) -> str:
        return f"http://127.0.0.1:{self.ports[service]}"

    def start(
        self, service: str, *, port: int | None = None, database_url: str | None = None, **env: str
    ) -> subprocess.Popen[bytes]:
        """Start one service process; extra keyword arguments are HEARTH_* environment variables."""
        port = port or self.ports.get(service) or free_port()
        self.ports.setdefault(service, port)
        env.setdefault("HEARTH_KAFKA_BOOTSTRAP", self.infra.kafka_bootstrap)
        if database_url is not None:
            # Another database is another deployment: it must not join the main stack's groups.
            env.setdefault("HEARTH_CONSUMER_GROUP", f"hearth-{service}-{make_url(database_url).database}")
        proc = start_service(
            service,
            port,
            database_url=database_url or self.infra.database_url,
            kafka_bootstrap=env.pop("HEARTH_KAFKA_BOOTSTRAP"),
            log_path=self.log_dir / f"{service}-{port}.log",
            env=env,
        )
        self.processes[f"{service}:{port}"] = proc
        return proc

    async def start_all(self) -> None:
        for service in SERVICES:
            self.start(service)
        await wait_healthy_async(
            [self.url(s) + "/health" for s in SERVICES],
            90,
            logs={self.url(s) + "/health": self.log_dir / f"{s}-{self.ports[s]}.log" for s in SERVICES},
        )

    def kill(self, proc: subprocess.Popen[bytes]) -> None:
        proc.send_signal(signal.SIGKILL)
        proc.wait(10)

    def stop_all(self) -> None:
        for proc in self.processes.values():
            if proc.poll() is None:
                proc.terminate()
        for proc in self.processes.values():
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()

    async def isolated_database(self) -> str:
        """A fresh database on the same server: a service started on it has its own outbox."""
        name = f"iso_{uuid.uuid4().hex[:10]}"
        conn = await asyncpg.connect(asyncpg_dsn(self.infra.database_url))
        try:
            await conn.execute(f'CREATE DATABASE "{name}"')
        finally:
            await conn.close()
        return make_url(self.infra.database_url).set(database=name).render_as_string(hide_password=False)

    # --- the event tap -------------------------------------------------------------------
    async def start_tap(self) -> None:
        consumer = AIOKafkaConsumer(
            *ALL_TOPICS,
            bootstrap_servers=self.infra.kafka_bootstrap,
            group_id=None,
            auto_offset_reset="earliest",
            fetch_max_wait_ms=50,
        )
        await consumer.start()
        self._tap = asyncio.create_task(self._read(consumer))

    async def _read(self, consumer: AIOKafkaConsumer) -> None:
        try:
            while True:
                batch = await consumer.getmany(timeout_ms=200)
                new = []
                for records in batch.values():
                    for r in records:
                        try:
                            env: Envelope | None = decode(r.key, r.value, r.headers)
                        except UndecodableEvent:
                            env = None
                        headers = {k: v.decode(errors="replace") for k, v in r.headers}
                        new.append(Record(r.topic, r.key, r.value, headers, env))
                if new:
                    async with self._arrived:
                        self.records.extend(new)
                        self._arrived.notify_all()
        finally:
            await consumer.stop()

    def events(self, topic: str, predicate: Callable[[Envelope], bool] = lambda e: True) -> list[Envelope]:
        return [r.envelope for r in self.records if r.topic == topic and r.envelope and predicate(r.envelope)]

    async def wait_for_records(
        self, topic: str, predicate: Callable[[Record], bool], *, count: int = 1, timeout: float = 20
    ) -> list[Record]:
        async def enough() -> list[Record]:
            async with self._arrived:
                while True:
                    found = [r for r in self.records if r.topic == topic and predicate(r)]
                    if len(found) >= count:
                        return found
                    await self._arrived.wait()

        try:
            return await asyncio.wait_for(enough(), timeout)
        except TimeoutError:
            raise AssertionError(
                f"fewer than {count} matching record(s) on {topic} within {timeout}s"
            ) from None

    async def wait_for_event(
        self, topic: str, predicate: Callable[[Envelope], bool], *, count: int = 1, timeout: float = 20
    ) -> Envelope:
        found = await self.wait_for_records(
            topic, lambda r: r.envelope is not None and predicate(r.envelope), count=count, timeout=timeout
        )
        assert found[-1].envelope is not None
        return found[-1].envelope

    # --- publishing as an outside producer -------------------------------------------------
    async def producer(self) -> AIOKafkaProducer:
        if self._producer is None:
            self._producer = AIOKafkaProducer(bootstrap_servers=self.infra.kafka_bootstrap, acks="all")
            await self._producer.start()
        return self._producer

    async def publish(self, event: Event, *, source: str = "/test", **envelope: Any) -> Envelope:
        env = new_envelope(event, source=source, **envelope)
        await self.publish_envelope(env, event.topic())
        return env

    async def publish_envelope(self, env: Envelope, topic: str) -> None:
        key, value, headers = encode(env)
        await self.publish_raw(topic, key, value, headers)

    async def publish_raw(
        self, topic: str, key: bytes | None, value: bytes | None, headers: list[tuple[str, bytes]]
    ) -> None:
        producer = await self.producer()
        await producer.send_and_wait(topic, value=value, key=key, headers=headers)

    async def close(self) -> None:
        if self._tap is not None:
            self._tap.cancel()
            await asyncio.gather(self._tap, return_exceptions=True)
        if self._producer is not None:
            await self._producer.stop()


async def metric(client: httpx.AsyncClient, base_url: str, name: str, **labels: str) -> float:
    """The sum of a Prometheus counter or gauge over the series that match `labels`."""
    text = (await client.get(f"{base_url}/metrics")).text
    total = 0.0
    for line in text.splitlines():
        if not line.startswith(name + "{") and not line.startswith(name + " "):
            continue
        series, value = line.rsplit(" ", 1)
        if all(f'{k}="{v}"' in series for k, v in labels.items()):
            total += float(value)
    return total
