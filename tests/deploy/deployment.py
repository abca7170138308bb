"""What the deployment tests read: the repository's deploy files, the tools that render them, and
what the code accepts (settings fields, service ports, routes), each derived from the code."""

import importlib
import re
import shutil
import subprocess
from collections.abc import Iterator
from functools import cache
from pathlib import Path
from typing import Any

import yaml
from pydantic_settings import BaseSettings

from hearth_dashboard.settings import DashboardSettings
from hearth_devstack.services import SERVICES
from hearth_platform.settings import Settings

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
COMPOSE = ROOT / "docker-compose.yml"
PRODUCTION = DEPLOY / "k8s" / "overlays" / "production"
HEARTH_NAME = re.compile(r"\bHEARTH_[A-Z0-9_]+")

#: Debian packages that provide each tool (the Makefile's `deploy-tools` installs them).
PACKAGES = {"kubectl": "kubernetes-client", "docker-compose": "docker-compose"}


def run_tool(tool: str, *args: str) -> str:
    """Run a deploy tool in the repository root and return its standard output; fail (never skip)
    with what to install when the tool is missing, and with its stderr when it rejects the input."""
    if shutil.which(tool) is None:
        raise AssertionError(
            f"{tool} is not installed: `make deploy-tools` (or `apt-get install {PACKAGES[tool]}`) installs it"
        )
    done = subprocess.run([tool, *args], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, f"`{tool} {' '.join(args)}` failed:\n{done.stderr}"
    return done.stdout


def settings_names(model: type[BaseSettings]) -> set[str]:
    """The environment variables a pydantic-settings model reads: its prefix and each field."""
    prefix = model.model_config.get("env_prefix", "")
    return {f"{prefix}{name}".upper() for name in model.model_fields}


SERVICE_SETTINGS = settings_names(Settings)
DASHBOARD_SETTINGS = settings_names(DashboardSettings)
PORTS = {s.name: s.port for s in SERVICES}


def settings_of(command: list[str]) -> set[str]:
    """The HEARTH_* variables the process a container command starts reads."""
    return DASHBOARD_SETTINGS if any("hearth_dashboard" in part for part in command) else SERVICE_SETTINGS


def command_port(command: list[str]) -> int:
    return int(command[command.index("--port") + 1])


def app_module(command: list[str]) -> str:
    """`uvicorn hearth_referral.app:app ...` -> `hearth_referral.app`."""
    return next(part for part in command if part.endswith(".app:app")).removesuffix(":app")


@cache
def route_paths(module: str) -> frozenset[str]:
    """Every path the ASGI app in `module` answers (the probes and scrapes must hit real routes)."""
    app = importlib.import_module(module).app
    return frozenset(getattr(route, "path", "") for route in app.routes)


@cache
def compose_config() -> dict[str, Any]:
    return yaml.safe_load(run_tool("docker-compose", "-f", str(COMPOSE), "config"))


@cache
def kubernetes_resources() -> tuple[dict[str, Any], ...]:
    rendered = run_tool("kubectl", "kustomize", str(PRODUCTION))
    return tuple(doc for doc in yaml.safe_load_all(rendered) if doc)


def resources_of(kind: str) -> dict[str, dict[str, Any]]:
    return {r["metadata"]["name"]: r for r in kubernetes_resources() if r["kind"] == kind}


def containers() -> Iterator[tuple[str, dict[str, Any]]]:
    """(workload name, container) for every Deployment and Job."""
    for resource in kubernetes_resources():
        if resource["kind"] in ("Deployment", "Job"):
            for container in resource["spec"]["template"]["spec"]["containers"]:
                yield resource["metadata"]["name"], container


def dockerfile_ports() -> set[int]:
    ports: set[int] = set()
    for line in (DEPLOY / "Dockerfile").read_text().splitlines():
        if line.startswith("EXPOSE "):
            ports.update(int(p.split("/")[0]) for p in line.split()[1:])
    return ports


def bind_mounts(service: dict[str, Any]) -> dict[str, str]:
    """A compose service's bind mounts, host path -> container path (short or long syntax)."""
    mounts: dict[str, str] = {}
    for volume in service.get("volumes", []):
        if isinstance(volume, dict):
            mounts[volume["source"]] = volume["target"]
        else:
            source, target = volume.split(":")[:2]
            mounts[source] = target
    return mounts
