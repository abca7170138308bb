"""Faults a test can inject into the embedded infrastructure while load runs.

Outages are timed inside a running event loop, so the load driver and the event tap of the same
test keep going while the broker or the database is away.

Broker outage. Tansu keeps topics and committed offsets only in memory: stopping and starting it
would lose every topic, which is not the fault under test (a Kafka cluster that is briefly
unreachable) but a different one (a cluster rebuilt from nothing). So the outage freezes the
broker process with SIGSTOP and thaws it with SIGCONT: connections stay open but nothing is
answered, exactly what clients see from a hung or partitioned broker, and when it comes back every
session has expired, so every consumer group rebalances. On Apache Kafka the equivalent is to stop
all brokers of the cluster (`systemctl stop kafka` / `docker compose stop kafka`, or
`kafka-server-stop.sh` on each) for the same time and start them again, or to cut the network to
them (iptables DROP on the listener ports, or a toxiproxy in front): the logs and offsets are on
disk there, so a real restart keeps them.

Database outage. A fast shutdown of the postmaster (SIGINT: open transactions roll back, every
connection is closed), the server down for the outage, then started again on the same data
directory and port: what a failover or a minor-version upgrade does to the services' pools.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import time
from dataclasses import dataclass

from hearth_devstack.broker import EmbeddedBroker
from hearth_devstack.postgres import EmbeddedPostgres


@dataclass(frozen=True)
class Outage:
    """What happened, for the test's report: what was cut and for how long (seconds)."""

    target: str
    seconds: float


async def broker_outage(broker: EmbeddedBroker, seconds: float) -> Outage:
    """Freeze the broker for `seconds`, then let it run on with its topics and offsets intact."""
    pid = broker.pid
    if pid is None:
        raise RuntimeError("the embedded broker does not run")
    started = time.monotonic()
    os.kill(pid, signal.SIGSTOP)
    try:
        await asyncio.sleep(seconds)
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGCONT)
    return Outage("broker", time.monotonic() - started)


async def postgres_outage(postgres: EmbeddedPostgres, seconds: float) -> Outage:
    """Fast-shutdown the server, keep it down for `seconds`, start it on the same data again.

    The blocking stop and start run in a worker thread so the event loop (load, tap) goes on."""
    started = time.monotonic()
    await asyncio.to_thread(postgres.stop)
    try:
        await asyncio.sleep(seconds)
    finally:
        await asyncio.to_thread(postgres.start)
    return Outage("postgres", time.monotonic() - started)
