"""Postgres and broker for a benchmark run: the embedded pair on free ports, torn down after."""

import shutil
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import asyncpg

from hearth_devstack.blocking import run_blocking
from hearth_devstack.broker import EmbeddedBroker
from hearth_devstack.postgres import EmbeddedPostgres
from hearth_devstack.processes import free_ports
from hearth_devstack.topics import create_topics

ROOT = Path(__file__).resolve().parent.parent


@dataclass
class BenchInfra:
    database_url: str
    kafka_bootstrap: str


@contextmanager
def bench_infra() -> Iterator[BenchInfra]:
    data_dir = ROOT / ".hearth" / "bench" / uuid.uuid4().hex[:8]
    pg_port, broker_port = free_ports(2)
    postgres = EmbeddedPostgres(data_dir, pg_port, durable=False)
    broker = EmbeddedBroker(broker_port)
    postgres.start(detach=False)
    broker.start(detach=False)
    try:
        run_blocking(create_topics(broker.bootstrap))
        yield BenchInfra(postgres.url, broker.bootstrap)
    finally:
        broker.stop()
        postgres.stop()
        shutil.rmtree(data_dir, ignore_errors=True)
        postgres.log_path.unlink(missing_ok=True)


async def vacuum_analyze(database_url: str) -> None:
    """As pgbench does before it measures: VACUUM ANALYZE, so that no measurement pays for the
    dead rows and unset visibility of the one before it (autovacuum would start on them mid-run)."""
    conn = await asyncpg.connect(database_url.replace("postgresql+asyncpg://", "postgresql://"))
    try:
        await conn.execute("VACUUM (ANALYZE)")
    finally:
        await conn.close()
