"""The system the browser test watches: the four services and the dashboard as real processes on
the session's Postgres and broker (the `infra` fixture of hearth_devstack.testing).

Module-scoped: the services join the same consumer groups as tests/integration's stack, so they
must be gone before that stack starts.
"""

from collections.abc import AsyncIterator

import pytest

from hearth_devstack.processes import free_ports
from hearth_devstack.services import wait_healthy_async
from hearth_devstack.testing import Infra

from .system import SERVICES, System, start


@pytest.fixture(scope="module")
async def system(infra: Infra, tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[System]:
    log_dir = tmp_path_factory.mktemp("dashboard-system-logs")
    *service_ports, dashboard_port = free_ports(len(SERVICES) + 1)
    urls = {name: f"http://127.0.0.1:{port}" for name, port in zip(SERVICES, service_ports, strict=True)}
    system = System(infra, urls, f"http://127.0.0.1:{dashboard_port}")
    try:
        started = {
            f"{urls[name]}/health": start(system, name, port, log_dir)
            for name, port in zip(SERVICES, service_ports, strict=True)
        }
        services_env = ",".join(f"{name}={url}" for name, url in urls.items())
        started[f"{system.dashboard_url}/health"] = start(
            system, "dashboard", dashboard_port, log_dir, {"HEARTH_DASHBOARD_SERVICES": services_env}
        )
        await wait_healthy_async(
            list(started),
            90,
            processes={url: process for url, (process, _) in started.items()},
            logs={url: log for url, (_, log) in started.items()},
        )
        yield system
    finally:
        system.stop()
