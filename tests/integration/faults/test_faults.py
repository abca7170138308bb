"""Hearth under faults, with load running: after each fault every referral is accounted for, each
event had its effect once, the month's invoice equals the driver's recomputation, and the
dead-letter topics hold exactly the poison injected (none before the poison test).

The tests share one system and one driver: each bills its own month, in order, and each re-checks
the members of the faults before it, so a later fault that disturbed earlier effects is caught.
"""

import asyncio
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from typing import TypeVar

import httpx

from hearth_devstack.faults import Outage, broker_outage, postgres_outage
from hearth_devstack.services import wait_healthy_async

from ..stack import SERVICES, Stack, metric
from .driver import Driver, Load
from .invariants import (
    assert_dead_letters_exactly,
    assert_each_effect_once,
    assert_every_referral_accounted_for,
    close_and_assert_invoices,
    settle,
)
from .poison import Poison, inject_at_rate, redeliver
from .sizes import FaultSize

T = TypeVar("T")


async def under_load(
    driver: Driver, size: FaultSize, fault: Callable[[], Awaitable[T]], *, topics_share: int = 0
) -> tuple[Load, T]:
    """Start the load, let it get going, inject the fault; the load goes on until the fault is
    over and at least `size.members` members were referred."""
    over = asyncio.Event()

    async def inject() -> T:
        try:
            await asyncio.sleep(1.0)
            return await fault()
        finally:
            over.set()

    load, outcome = await asyncio.gather(
        driver.run(
            size.members,
            waves_in_flight=size.waves_in_flight,
            wave_interval_s=size.wave_interval_s,
            topics_share=topics_share,
            until=over,
        ),
        inject(),
    )
    return load, outcome


async def assert_invariants(
    stack: Stack, driver: Driver, http: httpx.AsyncClient, load: Load, poison: list[Poison], size: FaultSize
) -> None:
    settled = await settle(stack, http, load, size.settle_s)
    routes = Counter(m.route for m in load.members)
    print(
        f"\n[{size.name}] {load.month} {load.org}: {len(load.members)} members {dict(routes)} "
        f"in {load.seconds:.1f}s, client retries {dict(load.retries)}, 5xx {dict(load.server_errors)}, "
        f"effects settled {settled.seconds:.1f}s after; poison so far {len(poison)}"
    )
    # A fault is answered "unavailable, retry" (503 with Retry-After) or not at all, never with an
    # unexplained 500 that leaves a client guessing whether to retry.
    assert set(load.server_errors) <= {"503"}, load.server_errors
    await assert_every_referral_accounted_for(stack, driver, http)
    await assert_each_effect_once(stack, driver, http)
    await close_and_assert_invoices(stack, driver, http, load)
    await assert_dead_letters_exactly(stack, poison, size.settle_s)


async def _restart(stack: Stack, service: str) -> None:
    stack.start(service)
    url = stack.url(service) + "/health"
    await wait_healthy_async([url], 90, logs={url: stack.log_dir / f"{service}-{stack.ports[service]}.log"})


async def test_each_service_killed_and_restarted_under_load_loses_and_repeats_nothing(
    fault_stack: Stack,
    driver: Driver,
    fault_http: httpx.AsyncClient,
    poison: list[Poison],
    fault_size: FaultSize,
):
    async def kill_each_in_turn() -> list[int]:
        codes = []
        for service in SERVICES:
            process = fault_stack.processes[f"{service}:{fault_stack.ports[service]}"]
            fault_stack.kill(process)  # SIGKILL: no shutdown hook runs, in-flight work is cut
            codes.append(process.returncode)
            await asyncio.sleep(0.5)
            await _restart(fault_stack, service)
            await asyncio.sleep(1.0)
        return codes

    load, codes = await under_load(driver, fault_size, kill_each_in_turn)

    assert codes == [-9, -9, -9, -9]
    await assert_invariants(fault_stack, driver, fault_http, load, poison, fault_size)


async def test_the_broker_unavailable_under_load_delays_but_loses_and_repeats_nothing(
    fault_stack: Stack,
    driver: Driver,
    fault_http: httpx.AsyncClient,
    poison: list[Poison],
    fault_size: FaultSize,
):
    assert fault_stack.infra.broker is not None
    broker = fault_stack.infra.broker

    def flowing() -> tuple[int, int]:
        """Events seen on the topics, referrals the services accepted over HTTP."""
        return len(fault_stack.records), sum(m.referral_accepted for m in driver.members)

    async def freeze() -> tuple[Outage, tuple[int, int], tuple[int, int]]:
        outage = asyncio.create_task(broker_outage(broker, fault_size.outage_s))
        await asyncio.sleep(1.0)  # what was in flight to the tap has arrived
        early = flowing()
        await asyncio.sleep(fault_size.outage_s - 1.5)
        late = flowing()
        return await outage, early, late

    load, (outage, early, late) = await under_load(driver, fault_size, freeze)

    assert outage.seconds >= fault_size.outage_s
    # While the broker was away nothing reached the topics, yet the services took referrals.
    assert late[0] == early[0], "events flowed while the broker was frozen"
    assert late[1] > early[1], "the services stopped taking referrals while the broker was away"
    await assert_invariants(fault_stack, driver, fault_http, load, poison, fault_size)


async def test_postgres_restarted_under_load_loses_and_repeats_nothing(
    fault_stack: Stack,
    driver: Driver,
    fault_http: httpx.AsyncClient,
    poison: list[Poison],
    fault_size: FaultSize,
):
    assert fault_stack.infra.postgres is not None
    postgres = fault_stack.infra.postgres
    before = postgres.pid

    async def restart() -> Outage:
        return await postgres_outage(postgres, fault_size.outage_s)

    load, outage = await under_load(driver, fault_size, restart)

    assert postgres.pid is not None and postgres.pid != before
    assert outage.seconds >= fault_size.outage_s
    assert sum(load.retries.values()) > 0, "the outage should have refused some calls"
    await assert_invariants(fault_stack, driver, fault_http, load, poison, fault_size)


async def test_one_percent_poison_is_dead_lettered_exactly_and_the_load_goes_through(
    fault_stack: Stack,
    driver: Driver,
    fault_http: httpx.AsyncClient,
    poison: list[Poison],
    fault_size: FaultSize,
):
    running = asyncio.Event()
    running.set()
    before = len(poison)

    async def keep_poisoning() -> None:
        injector = asyncio.create_task(inject_at_rate(fault_stack, poison, running, share=0.01, floor=5))
        await asyncio.sleep(max(3.0, fault_size.outage_s))
        running.clear()
        await injector

    load, _ = await under_load(driver, fault_size, keep_poisoning)

    assert len(poison) - before >= 5
    assert {p.kind for p in poison[before:]} == {"undecodable", "schema"}
    await assert_invariants(fault_stack, driver, fault_http, load, poison, fault_size)


async def test_redelivered_and_reordered_events_have_their_effect_once(
    fault_stack: Stack,
    driver: Driver,
    fault_http: httpx.AsyncClient,
    poison: list[Poison],
    fault_size: FaultSize,
):
    running = asyncio.Event()
    running.set()
    copies: list[int] = []

    async def redeliver_while_loading() -> None:
        # Every member the driver ever referred, this load's included as they appear.
        subjects = {m.member_id for m in driver.members}
        task = asyncio.create_task(redeliver(fault_stack, subjects, running, every=3))
        deadline = time.monotonic() + max(4.0, fault_size.outage_s)
        while time.monotonic() < deadline:
            subjects |= {m.member_id for m in driver.members}
            await asyncio.sleep(0.2)
        running.clear()
        copies.append(await task)

    async def duplicates_discarded() -> float:
        counts = [
            await metric(fault_http, fault_stack.url(s), "hearth_events_consumed_total", outcome="duplicate")
            for s in SERVICES
        ]
        return sum(counts)

    before = await duplicates_discarded()
    load, _ = await under_load(
        driver, fault_size, redeliver_while_loading, topics_share=max(5, fault_size.members // 3)
    )

    assert copies[0] > 0
    print(f"\n{copies[0]} event(s) redelivered with their ce_id")
    deadline = time.monotonic() + fault_size.settle_s
    while await duplicates_discarded() == before and time.monotonic() < deadline:
        await asyncio.sleep(0.5)
    assert await duplicates_discarded() > before, "no consumer's inbox turned a copy away"
    assert sum(m.route == "topics" for m in load.members) >= 5
    await assert_invariants(fault_stack, driver, fault_http, load, poison, fault_size)
