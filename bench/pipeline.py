"""Target (b): the pipeline's end-to-end rate. Billing's consumer reads AssessmentCompleted
events, records each in its inbox, accrues the assessment fee and stages AssessmentFeeAccrued in
its outbox, all in one transaction per batch, then commits the offsets: events consumed and
committed per second. Then the relay publishes that outbox: events relayed per second."""

import asyncio
import time
import uuid
from datetime import date
from typing import Any

from aiokafka import AIOKafkaProducer
from sqlalchemy import func, select

from hearth_billing.app import definition
from hearth_platform.cloudevents import encode, new_envelope
from hearth_platform.consumer import Consumer
from hearth_platform.db import Database
from hearth_platform.migrations import upgrade
from hearth_platform.relay import Relay
from hearth_platform.settings import Settings
from hearth_schemas import AssessmentCompleted

from .infra import BenchInfra


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


async def _produce(bootstrap: str, count: int, run: str) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all", linger_ms=5, max_batch_size=262_144)
    await producer.start()
    pending = []
    for i in range(count):
        key, value, headers = encode(new_envelope(assessment(i, run), source="/bench"))
        pending.append(await producer.send("referral.events", value, key=key, headers=headers))
    await asyncio.gather(*pending)
    await producer.stop()


async def _wait_for(predicate: Any, timeout: float) -> float:
    deadline = time.perf_counter() + timeout
    while time.perf_counter() < deadline:
        if await predicate():
            return time.perf_counter()
        await asyncio.sleep(0.05)
    raise TimeoutError("the pipeline did not finish in time")


async def pipeline(infra: BenchInfra, count: int = 50_000) -> dict[str, Any]:
    settings = Settings(
        database_url=infra.database_url,
        kafka_bootstrap=infra.kafka_bootstrap,
        consumer_batch_max=2000,
        relay_batch_max=2000,
    )
    await upgrade(settings.database_url, definition.schema, definition.migrations)
    db = Database(settings, definition.name, definition.platform)
    if definition.on_startup is not None:
        await definition.on_startup(db)
    run = uuid.uuid4().hex[:6]
    await _produce(infra.kafka_bootstrap, count, run)

    consumer = Consumer(db, definition.handlers, group=f"bench-{run}")
    inbox, outbox = definition.platform.inbox, definition.platform.outbox

    async def inbox_rows() -> int:
        async with db.engine.connect() as conn:
            query = select(func.count()).where(inbox.c.consumer_group == consumer.group)
            return int((await conn.execute(query)).scalar_one())

    task = asyncio.create_task(consumer.run())
    first = await _wait_for(lambda: _gt(inbox_rows, 0), 60)
    first_count = await inbox_rows()
    done = await _wait_for(lambda: _gt(inbox_rows, count - 1), 600)
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)
    consumed_per_s = (count - first_count) / max(done - first, 1e-9)

    async def backlog() -> int:
        async with db.engine.connect() as conn:
            return int(
                (await conn.execute(select(func.count()).where(outbox.c.sent_at.is_(None)))).scalar_one()
            )

    staged = await backlog()
    relay = Relay(db)
    started = time.perf_counter()
    relay_task = asyncio.create_task(relay.run())
    finished = await _wait_for(lambda: _eq(backlog, 0), 600)
    relay_task.cancel()
    await asyncio.gather(relay_task, return_exceptions=True)
    await db.dispose()
    return {
        "events": count,
        "batch_max": settings.consumer_batch_max,
        "consumed_per_s": round(consumed_per_s),
        "outbox_rows_staged": staged,
        "relayed_per_s": round(staged / max(finished - started, 1e-9)),
        "note": "rate measured from the first committed batch to the last (group join excluded)",
    }


async def _gt(f: Any, n: int) -> bool:
    return bool(await f() > n)


async def _eq(f: Any, n: int) -> bool:
    return bool(await f() == n)
