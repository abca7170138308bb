"""pytest plugin: the `infra` fixture gives a test session a Postgres and a Kafka broker.

Load it with `pytest_plugins = ["hearth_devstack.testing"]`. HEARTH_TEST_INFRA selects where they
come from:
- `embedded` (default): embedded Postgres (non-durable) and Tansu on free ports, data under
  `<repo>/.hearth/test/<id>/`, all topics created; stopped and deleted when the session ends;
- `external`: HEARTH_DATABASE_URL and HEARTH_KAFKA_BOOTSTRAP; missing topics are created;
- `testcontainers`: PostgreSQL and Kafka containers, for hosts with a Docker engine.

The fixture is synchronous, so it works whatever event-loop scope the async tests use.
"""

from __future__ import annotations

import os
import shutil
import time
import uuid
from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path

import pytest

from hearth_devstack.blocking import run_blocking
from hearth_devstack.broker import EmbeddedBroker
from hearth_devstack.postgres import EmbeddedPostgres, Postmaster
from hearth_devstack.processes import free_ports, is_alive
from hearth_devstack.stack import Layout, find_root
from hearth_devstack.topics import create_topics

_STALE_AFTER_SECONDS = 3600.0


@dataclass(frozen=True)
class Infra:
    """Addresses of the session's Postgres and broker; the embedded servers themselves when this
    session runs them (fault-injection tests restart them through these)."""

    database_url: str
    kafka_bootstrap: str
    broker: EmbeddedBroker | None = None
    postgres: EmbeddedPostgres | None = None

    def env(self) -> dict[str, str]:
        """The variables a service process needs to use this infrastructure."""
        return {"HEARTH_DATABASE_URL": self.database_url, "HEARTH_KAFKA_BOOTSTRAP": self.kafka_bootstrap}


@pytest.fixture(scope="session")
def infra(request: pytest.FixtureRequest) -> Iterator[Infra]:
    mode = os.environ.get("HEARTH_TEST_INFRA", "embedded")
    if mode == "embedded":
        yield from embedded_infra(find_root(request.config.rootpath))
    elif mode == "external":
        external = _external()
        run_blocking(create_topics(external.kafka_bootstrap))
        yield external
    elif mode == "testcontainers":
        yield from _testcontainers()
    else:
        pytest.fail(
            f"HEARTH_TEST_INFRA={mode!r}: expected embedded, external or testcontainers", pytrace=False
        )


def embedded_infra(root: Path) -> Iterator[Infra]:
    test_root = Layout(root).home / "test"
    _remove_stale(test_root)
    run_dir = test_root / uuid.uuid4().hex[:12]
    pg_port, broker_port = free_ports(2)
    postgres = EmbeddedPostgres(
        run_dir / "postgres", pg_port, durable=False, log_path=run_dir / "postgres.log"
    )
    broker = EmbeddedBroker(broker_port, log_path=run_dir / "broker.log")
    with ExitStack() as cleanup:
        cleanup.callback(shutil.rmtree, run_dir, ignore_errors=True)
        postgres.start(detach=False)
        cleanup.callback(postgres.stop)
        broker.start(detach=False)
        cleanup.callback(broker.stop)
        run_blocking(create_topics(broker.bootstrap))
        yield Infra(postgres.url, broker.bootstrap, broker=broker, postgres=postgres)


def _remove_stale(test_root: Path) -> None:
    """Delete what killed sessions left behind: directories whose server is gone, old enough that
    no concurrent session can still be creating them."""
    if not test_root.is_dir():
        return
    for run_dir in test_root.iterdir():
        postmaster = Postmaster.read(run_dir / "postgres")
        running = postmaster is not None and is_alive(postmaster.pid, "postgres")
        if run_dir.is_dir() and not running and time.time() - run_dir.stat().st_mtime > _STALE_AFTER_SECONDS:
            shutil.rmtree(run_dir, ignore_errors=True)


def _external() -> Infra:
    database_url = os.environ.get("HEARTH_DATABASE_URL")
    kafka_bootstrap = os.environ.get("HEARTH_KAFKA_BOOTSTRAP")
    if not database_url or not kafka_bootstrap:
        pytest.fail(
            "HEARTH_TEST_INFRA=external needs HEARTH_DATABASE_URL (postgresql+asyncpg://...) and "
            "HEARTH_KAFKA_BOOTSTRAP (host:port) to be set",
            pytrace=False,
        )
    return Infra(database_url, kafka_bootstrap)


def _testcontainers() -> Iterator[Infra]:
    try:
        from testcontainers.community.kafka import KafkaContainer
        from testcontainers.community.postgres import PostgresContainer
    except ImportError:
        try:
            from testcontainers.kafka import KafkaContainer  # type: ignore[no-redef]
            from testcontainers.postgres import PostgresContainer  # type: ignore[no-redef]
        except ImportError as exc:
            pytest.fail(
                f"HEARTH_TEST_INFRA=testcontainers needs the testcontainers package: {exc}", pytrace=False
            )
    with ExitStack() as cleanup:
        failure = None
        try:
            postgres = PostgresContainer("postgres:18", dbname="hearth", driver="asyncpg")
            kafka = KafkaContainer("confluentinc/cp-kafka:7.6.0").with_kraft()
            cleanup.enter_context(postgres)
            cleanup.enter_context(kafka)
        except Exception as exc:
            failure = f"{type(exc).__name__}: {exc}"
        if failure is not None:
            pytest.fail(
                f"HEARTH_TEST_INFRA=testcontainers needs a Docker engine: {failure}. "
                "Use HEARTH_TEST_INFRA=embedded (the default) on a host without Docker.",
                pytrace=False,
            )
        bootstrap = kafka.get_bootstrap_server()
        run_blocking(create_topics(bootstrap))
        yield Infra(postgres.get_connection_url(), bootstrap)
