"""The laptop stack behind `make up` / `make down` / `make status`.

Everything lives under `<repo>/.hearth/` (git-ignored): the Postgres cluster in `postgres/`, logs
in `logs/<name>.log`, pid files in `run/<name>.pid` and, in `run/stack.json`, what `up` used
(ports, the broker's cluster id, whether Postgres and Kafka were external), so that `down` and
`status` in a later shell address the same processes. `up` is idempotent: it reuses whatever of
the stack still runs and starts the rest.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import sys
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
from aiokafka.errors import KafkaError

from hearth_devstack.blocking import run_blocking
from hearth_devstack.broker import BrokerError, EmbeddedBroker, probe_cluster_id
from hearth_devstack.postgres import EmbeddedPostgres, PostgresError
from hearth_devstack.processes import is_alive, port_in_use, read_pid_file, write_pid_file
from hearth_devstack.services import (
    SERVICES,
    Service,
    ServiceUnhealthy,
    available_services,
    health_status,
    start_service,
    stop_service,
    wait_healthy,
)
from hearth_devstack.topics import TopicCreationError, create_topics

DEFAULT_PG_PORT = 5432
DEFAULT_BROKER_PORT = 9092
HEALTH_TIMEOUT = 90.0


class StackError(RuntimeError):
    """`up` could not bring a component up; the message says what to do."""


@dataclass(frozen=True)
class Layout:
    """Where the dev stack keeps its files inside the repository."""

    root: Path

    @property
    def home(self) -> Path:
        return self.root / ".hearth"

    @property
    def postgres_dir(self) -> Path:
        return self.home / "postgres"

    @property
    def logs(self) -> Path:
        return self.home / "logs"

    @property
    def run(self) -> Path:
        return self.home / "run"

    @property
    def state_file(self) -> Path:
        return self.run / "stack.json"

    def log(self, name: str) -> Path:
        return self.logs / f"{name}.log"

    def pid_file(self, name: str) -> Path:
        return self.run / f"{name}.pid"

    def load_state(self) -> dict[str, Any]:
        try:
            return dict(json.loads(self.state_file.read_text()))
        except (FileNotFoundError, ValueError):
            return {}

    def save_state(self, state: dict[str, Any]) -> None:
        self.run.mkdir(parents=True, exist_ok=True)
        self.state_file.write_text(json.dumps(state, indent=2) + "\n")


def find_root(start: Path | None = None) -> Path:
    """HEARTH_HOME, else the nearest directory from `start` (default: cwd) upwards that holds a
    `.git` or a `Makefile`."""
    if home := os.environ.get("HEARTH_HOME"):
        return Path(home).resolve()
    here = (start or Path.cwd()).resolve()
    for candidate in (here, *here.parents):
        if (candidate / ".git").exists() or (candidate / "Makefile").exists():
            return candidate
    raise StackError(f"no Hearth repository above {here}: run inside the repository or set HEARTH_HOME")


def up(layout: Layout, *, only_infra: bool = False) -> int:
    """Start what is not running yet, wait until healthy, print the addresses. Returns the exit code."""
    state = layout.load_state()
    started: list[str] = []
    try:
        database_url = _up_postgres(layout, state, started)
        kafka_bootstrap = _up_broker(layout, state, started)
        created = run_blocking(create_topics(kafka_bootstrap))
        if created:
            print(f"created topics: {', '.join(created)}")
        services = [] if only_infra else _up_services(layout, state, started, database_url, kafka_bootstrap)
    except (StackError, PostgresError, BrokerError, TopicCreationError, KafkaError, ServiceUnhealthy) as exc:
        print(f"hearth up failed: {exc}", file=sys.stderr)
        print("What did start keeps running for inspection; `make down` stops it.", file=sys.stderr)
        return 1
    print("Hearth is up." if started else "Hearth was already running; nothing to start.")
    print(f"  postgres     {_hide_password(database_url)}")
    print(f"  kafka        {kafka_bootstrap}")
    for svc in services:
        extra = "" if svc.optional else f"   docs {svc.base_url}/docs   metrics {svc.base_url}/metrics"
        print(f"  {svc.name:<12} {svc.base_url}{extra}")
    print(f"Logs: {layout.logs}/<name>.log   Stop: make down   Status: make status")
    return 0


def _up_postgres(layout: Layout, state: dict[str, Any], started: list[str]) -> str:
    if url := os.environ.get("HEARTH_DATABASE_URL"):
        state["postgres"] = {"managed": False, "url": url}
        layout.save_state(state)
        return url
    log_path, pid_file = layout.log("postgres"), layout.pid_file("postgres")
    pg = EmbeddedPostgres.attach(layout.postgres_dir, log_path=log_path, pid_file=pid_file)
    if pg is not None:
        pg.ensure_database()
        print(f"postgres already running (pid {pg.pid}, port {pg.port})")
    else:
        port = int(os.environ.get("HEARTH_PG_PORT", DEFAULT_PG_PORT))
        if port_in_use(port):
            raise StackError(
                f"127.0.0.1:{port} is taken by another program (another Postgres?); set HEARTH_PG_PORT"
            )
        print(f"starting postgres on 127.0.0.1:{port} (data in {layout.postgres_dir}) ...")
        pg = EmbeddedPostgres(layout.postgres_dir, port, log_path=log_path, pid_file=pid_file)
        pg.start(detach=True)
        started.append("postgres")
    state["postgres"] = {"managed": True, "url": pg.url, "port": pg.port}
    layout.save_state(state)
    return pg.url


def _up_broker(layout: Layout, state: dict[str, Any], started: list[str]) -> str:
    if bootstrap := os.environ.get("HEARTH_KAFKA_BOOTSTRAP"):
        state["broker"] = {"managed": False, "bootstrap": bootstrap}
        layout.save_state(state)
        return bootstrap
    previous = state.get("broker") or {}
    if previous.get("managed"):
        broker = _broker(layout, previous)
        if broker.pid is not None and broker.is_ready():
            print(f"broker already running (pid {broker.pid}, {broker.bootstrap})")
            return broker.bootstrap
        broker.stop()
    port = int(os.environ.get("HEARTH_BROKER_PORT", DEFAULT_BROKER_PORT))
    if port_in_use(port):
        raise StackError(
            f"127.0.0.1:{port} is taken by another program (another broker?); set HEARTH_BROKER_PORT"
        )
    print(f"starting broker on 127.0.0.1:{port} ...")
    broker = EmbeddedBroker(port, log_path=layout.log("broker"), pid_file=layout.pid_file("broker"))
    broker.start(detach=True)
    started.append("broker")
    state["broker"] = {
        "managed": True,
        "bootstrap": broker.bootstrap,
        "port": port,
        "cluster_id": broker.cluster_id,
    }
    layout.save_state(state)
    return broker.bootstrap


def _broker(layout: Layout, record: dict[str, Any]) -> EmbeddedBroker:
    return EmbeddedBroker(
        int(record["port"]),
        record["cluster_id"],
        log_path=layout.log("broker"),
        pid_file=layout.pid_file("broker"),
    )


def _up_services(
    layout: Layout, state: dict[str, Any], started: list[str], database_url: str, kafka_bootstrap: str
) -> list[Service]:
    services = available_services()
    processes = {}
    for svc in services:
        pid = read_pid_file(layout.pid_file(svc.name))
        if pid is not None and is_alive(pid, svc.app):
            print(f"{svc.name} already running (pid {pid})")
            continue
        if port_in_use(svc.port):
            raise StackError(f"127.0.0.1:{svc.port} (for {svc.name}) is taken by another program")
        process = start_service(
            svc.name,
            svc.port,
            database_url=database_url,
            kafka_bootstrap=kafka_bootstrap,
            log_path=layout.log(svc.name),
            detach=True,
            cwd=layout.root,
        )
        write_pid_file(layout.pid_file(svc.name), process.pid)
        processes[svc.health_url] = process
        started.append(svc.name)
    state["services"] = {svc.name: svc.port for svc in services}
    layout.save_state(state)
    print(f"waiting for {', '.join(s.name for s in services)} to answer /health ...")
    logs = {svc.health_url: layout.log(svc.name) for svc in services}
    wait_healthy([svc.health_url for svc in services], HEALTH_TIMEOUT, processes=processes, logs=logs)
    return services


def down(layout: Layout) -> int:
    """Stop what `up` started: the services (together: each takes seconds to drain), then the
    broker, then Postgres. Data stays."""
    with ThreadPoolExecutor(max_workers=len(SERVICES)) as pool:
        results = pool.map(lambda svc: _stop_by_pid_file(layout, svc.name, svc.app), SERVICES)
        stopped = [svc.name for svc, was_running in zip(SERVICES, results, strict=True) if was_running]
    if _stop_by_pid_file(layout, "broker", "tansu"):
        stopped.append("broker")
    pg = EmbeddedPostgres.attach(layout.postgres_dir, pid_file=layout.pid_file("postgres"))
    if pg is not None:
        pg.stop()
        stopped.append("postgres")
    layout.pid_file("postgres").unlink(missing_ok=True)
    layout.state_file.unlink(missing_ok=True)
    print(f"stopped: {', '.join(stopped)}" if stopped else "nothing was running")
    if stopped:
        print(f"data stays in {layout.home}")
    return 0


def _stop_by_pid_file(layout: Layout, name: str, marker: str) -> bool:
    pid_file = layout.pid_file(name)
    pid = read_pid_file(pid_file)
    running = pid is not None and is_alive(pid, marker)
    if running and pid is not None:
        stop_service(pid)
    pid_file.unlink(missing_ok=True)
    return running


def status(layout: Layout) -> int:
    """Print one line per component: pid, alive, health, address."""
    rows = [_postgres_row(layout), _broker_row(layout)]
    rows += run_blocking(_service_rows(layout))
    header = ("component", "pid", "alive", "health", "address")
    widths = [max(len(str(row[i])) for row in (header, *rows)) for i in range(len(header))]
    for row in (header, *rows):
        print("  ".join(str(cell).ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip())
    return 0


Row = tuple[str, str, str, str, str]


def _postgres_row(layout: Layout) -> Row:
    pg = EmbeddedPostgres.attach(layout.postgres_dir)
    if pg is not None:
        return ("postgres", str(pg.pid), "yes", "ready" if pg.is_ready() else "not ready", pg.url)
    record = layout.load_state().get("postgres") or {}
    if record.get("managed") is False:
        return ("postgres", "-", "-", "external", _hide_password(record["url"]))
    return ("postgres", "-", "no", "-", "")


def _broker_row(layout: Layout) -> Row:
    record = layout.load_state().get("broker") or {}
    if record.get("managed") is False:
        answering = run_blocking(probe_cluster_id(record["bootstrap"]))
        return (
            "broker",
            "-",
            "-",
            "external, " + ("answers" if answering else "no answer"),
            record["bootstrap"],
        )
    pid = read_pid_file(layout.pid_file("broker"))
    if not record or pid is None or not is_alive(pid, "tansu"):
        return ("broker", "-", "no", "-", record.get("bootstrap", ""))
    health = "ready" if _broker(layout, record).is_ready() else "not answering"
    return ("broker", str(pid), "yes", health, record["bootstrap"])


async def _service_rows(layout: Layout) -> list[Row]:
    services = [s for s in SERVICES if s in available_services() or layout.pid_file(s.name).exists()]
    async with httpx.AsyncClient(timeout=2.0) as client:
        codes = await asyncio.gather(*(health_status(client, s.health_url) for s in services))
    rows: list[Row] = []
    for svc, code in zip(services, codes, strict=True):
        pid = read_pid_file(layout.pid_file(svc.name))
        alive = pid is not None and is_alive(pid, svc.app)
        health = "-" if code is None else ("healthy" if code == 200 else f"HTTP {code}")
        rows.append((svc.name, str(pid) if alive else "-", "yes" if alive else "no", health, svc.base_url))
    return rows


def _hide_password(url: str) -> str:
    return re.sub(r"://([^:/@]+):[^@]*@", r"://\1:***@", url)
