"""The Hearth services as uvicorn subprocesses, and waiting for their health checks.

`hearth up` starts them detached; the integration tests start them attached, to SIGKILL one in
the middle of a flow and start it again. A service's `GET /health` answers 200 once its database
and broker are reachable and 503 until then.
"""

from __future__ import annotations

import asyncio
import importlib.util
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

import httpx

from hearth_devstack.blocking import run_blocking
from hearth_devstack.processes import spawn, stop_process, tail


@dataclass(frozen=True)
class Service:
    name: str
    port: int
    optional: bool = False

    @property
    def module(self) -> str:
        return f"hearth_{self.name}"

    @property
    def app(self) -> str:
        """The ASGI application, as uvicorn names it."""
        return f"{self.module}.app:app"

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def health_url(self) -> str:
        return f"{self.base_url}/health"

    def installed(self) -> bool:
        return importlib.util.find_spec(self.module) is not None


SERVICES: tuple[Service, ...] = (
    Service("dashboard", 8000, optional=True),
    Service("referral", 8001),
    Service("eligibility", 8002),
    Service("billing", 8003),
    Service("quality", 8004),
)


def service(name: str) -> Service:
    return next(s for s in SERVICES if s.name == name)


def available_services() -> list[Service]:
    """The services to run: all, less an optional one (the dashboard) that is not installed."""
    return [s for s in SERVICES if not s.optional or s.installed()]


class ServiceUnhealthy(RuntimeError):
    """A service did not answer its health check in time, or its process exited."""

    def __init__(self, url: str, reason: str) -> None:
        super().__init__(f"{url}: {reason}")
        self.url = url
        self.reason = reason


def service_env(
    database_url: str, kafka_bootstrap: str, env: Mapping[str, str] | None = None
) -> dict[str, str]:
    """This process's environment plus the two addresses every service needs, plus `env`; the dev
    key set verifies tokens unless `HEARTH_AUTH_JWKS_URL` names a real identity provider's."""
    merged = {
        **os.environ,
        "HEARTH_DATABASE_URL": database_url,
        "HEARTH_KAFKA_BOOTSTRAP": kafka_bootstrap,
        "PYTHONUNBUFFERED": "1",
        **(env or {}),
    }
    if not merged.get("HEARTH_AUTH_JWKS_URL"):
        from hearth_devstack.tokens import dev_keys_dir, jwks_url

        merged["HEARTH_AUTH_JWKS_URL"] = jwks_url(dev_keys_dir())
    return merged


def start_service(
    name: str,
    port: int,
    *,
    database_url: str,
    kafka_bootstrap: str,
    log_path: Path,
    detach: bool = False,
    env: Mapping[str, str] | None = None,
    cwd: Path | None = None,
) -> subprocess.Popen[bytes]:
    """Start `hearth_<name>.app:app` under uvicorn on 127.0.0.1:`port`; returns at once (see
    wait_healthy). The log is appended to, so a restarted service keeps its earlier lines."""
    argv = [sys.executable, "-m", "uvicorn", f"hearth_{name}.app:app"]
    argv += ["--host", "127.0.0.1", "--port", str(port), "--no-access-log"]
    return spawn(
        argv,
        log_path=log_path,
        detach=detach,
        env=service_env(database_url, kafka_bootstrap, env),
        cwd=cwd,
    )


def stop_service(process: subprocess.Popen[bytes] | int, timeout: float = 15.0) -> None:
    """SIGTERM (uvicorn's graceful shutdown runs the lifespan exit), SIGKILL after `timeout`."""
    if isinstance(process, int):
        stop_process(process, sig=signal.SIGTERM, timeout=timeout)
    else:
        stop_process(process.pid, process=process, sig=signal.SIGTERM, timeout=timeout)


async def health_status(client: httpx.AsyncClient, url: str) -> int | None:
    """The HTTP status of `url`, or None when nothing answers."""
    try:
        return (await client.get(url)).status_code
    except httpx.HTTPError:
        return None


async def wait_healthy_async(
    urls: Iterable[str],
    wait_s: float = 90.0,
    *,
    processes: Mapping[str, subprocess.Popen[bytes]] | None = None,
    logs: Mapping[str, Path] | None = None,
) -> None:
    """Poll every health URL until each answers 200.

    Raises ServiceUnhealthy for the first URL still failing after `wait_s`, or at once when the
    process given for a URL in `processes` has exited; with `logs`, the message ends with the
    tail of that URL's log.
    """
    pending = dict.fromkeys(urls, "no answer")
    deadline = time.monotonic() + wait_s
    async with httpx.AsyncClient(timeout=2.0) as client:
        while pending:
            statuses = await asyncio.gather(*(health_status(client, url) for url in pending))
            for url, status in zip(list(pending), statuses, strict=True):
                if status == 200:
                    del pending[url]
                    continue
                pending[url] = "no answer" if status is None else f"HTTP {status}"
                process = (processes or {}).get(url)
                if process is not None and process.poll() is not None:
                    raise _unhealthy(url, f"process exited with code {process.returncode}", logs)
            if pending and time.monotonic() >= deadline:
                url, reason = next(iter(pending.items()))
                raise _unhealthy(url, f"not healthy after {wait_s:.0f}s ({reason})", logs)
            if pending:
                await asyncio.sleep(0.25)


def wait_healthy(
    urls: Iterable[str],
    timeout: float = 90.0,
    *,
    processes: Mapping[str, subprocess.Popen[bytes]] | None = None,
    logs: Mapping[str, Path] | None = None,
) -> None:
    """wait_healthy_async for synchronous callers."""
    run_blocking(wait_healthy_async(urls, timeout, processes=processes, logs=logs))


def _unhealthy(url: str, reason: str, logs: Mapping[str, Path] | None) -> ServiceUnhealthy:
    log = (logs or {}).get(url)
    if log is not None:
        reason = f"{reason}; {log}:\n{tail(log)}"
    return ServiceUnhealthy(url, reason)
