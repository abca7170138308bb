"""The four services and the dashboard as real processes on the session's Postgres and broker."""

import subprocess
from dataclasses import dataclass, field
from pathlib import Path

from hearth_devstack.services import start_service
from hearth_devstack.testing import Infra

SERVICES = ("referral", "eligibility", "billing", "quality")


@dataclass
class System:
    infra: Infra
    urls: dict[str, str]
    dashboard_url: str
    processes: list[subprocess.Popen[bytes]] = field(default_factory=list)

    def stop(self) -> None:
        for proc in self.processes:
            if proc.poll() is None:
                proc.terminate()
        for proc in self.processes:
            try:
                proc.wait(15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(5)


def start(
    system: System, name: str, port: int, log_dir: Path, env: dict[str, str] | None = None
) -> tuple[subprocess.Popen[bytes], Path]:
    log = log_dir / f"{name}.log"
    process = start_service(
        name,
        port,
        database_url=system.infra.database_url,
        kafka_bootstrap=system.infra.kafka_bootstrap,
        log_path=log,
        env=env,
    )
    system.processes.append(process)
    return process, log
