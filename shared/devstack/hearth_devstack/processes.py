"""Starting, finding and stopping the dev stack's child processes.

Every child runs in its own session, so a Ctrl-C in the terminal reaches only the parent, which
then stops its children in order. A detached child (`hearth up`) outlives the CLI and is found
again through a pid file; an attached child (tests) also gets a parent-death signal from the
kernel, so a test run that is killed outright leaves no database, broker or service behind.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

import psutil

_PR_SET_PDEATHSIG = 1


def spawn(
    argv: Sequence[str],
    *,
    log_path: Path,
    detach: bool,
    env: Mapping[str, str] | None = None,
    user: str | None = None,
    cwd: Path | None = None,
    parent_death_signal: signal.Signals = signal.SIGTERM,
) -> subprocess.Popen[bytes]:
    """Start `argv` with stdout and stderr appended to `log_path`.

    The parent-death signal is only armed when called from the main thread: Linux sends it when
    the *thread* that forked exits, which for a worker thread would be long before the test ends.
    """
    log_path.parent.mkdir(parents=True, exist_ok=True)
    arm = not detach and sys.platform == "linux" and threading.current_thread() is threading.main_thread()
    with log_path.open("ab") as log:
        return subprocess.Popen(
            list(argv),
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            env=dict(env) if env is not None else None,
            user=user,
            cwd=cwd,
            start_new_session=True,
            preexec_fn=_die_with_parent(parent_death_signal) if arm else None,
        )


def _die_with_parent(sig: signal.Signals) -> Callable[[], None]:
    """A preexec hook that runs after Popen switched user, as the kernel resets the setting on a
    credential change."""
    prctl = ctypes.CDLL(None, use_errno=True).prctl

    def arm() -> None:
        prctl(_PR_SET_PDEATHSIG, int(sig))

    return arm


def is_alive(pid: int, marker: str | None = None) -> bool:
    """Whether `pid` runs and, given a marker, whether its command line contains it (a pid file
    can outlive its process, and the number can be reused by an unrelated one)."""
    try:
        proc = psutil.Process(pid)
        if proc.status() == psutil.STATUS_ZOMBIE:
            return False
        return marker is None or marker in " ".join(proc.cmdline())
    except (psutil.NoSuchProcess, psutil.AccessDenied):
        return False


def stop_process(
    pid: int,
    *,
    process: subprocess.Popen[bytes] | None = None,
    sig: signal.Signals = signal.SIGTERM,
    timeout: float = 20.0,
) -> None:
    """Ask `pid` to stop with `sig`; after `timeout` kill it and everything it started.

    Pass the Popen when this process started it, so the child is reaped rather than left a zombie.
    """
    try:
        tree = psutil.Process(pid).children(recursive=True)
    except psutil.NoSuchProcess:
        tree = []
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, sig)
    if _wait_exit(pid, process, timeout):
        return
    victims = tree
    with contextlib.suppress(psutil.NoSuchProcess):
        victims = [psutil.Process(pid), *tree]
    for proc in victims:
        with contextlib.suppress(psutil.NoSuchProcess):
            proc.kill()
    _wait_exit(pid, process, 5.0)


def _wait_exit(pid: int, process: subprocess.Popen[bytes] | None, timeout: float) -> bool:
    """Wait for the exit. A process we did not start counts as gone once it is a zombie: its new
    parent, pid 1, may take a second or more to reap it."""
    if process is not None:
        try:
            process.wait(timeout)
            return True
        except subprocess.TimeoutExpired:
            return False
    return wait_until(lambda: not is_alive(pid), timeout, interval=0.02)


def read_pid_file(path: Path) -> int | None:
    try:
        return int(path.read_text().split()[0])
    except (FileNotFoundError, IndexError, ValueError):
        return None


def write_pid_file(path: Path, pid: int) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(f"{pid}\n")


def port_in_use(port: int, host: str = "127.0.0.1") -> bool:
    """Whether a server could not listen on host:port now (SO_REUSEADDR, as servers set it, so a
    port held only by closing connections counts as free)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError:
            return True
    return False


def free_ports(count: int, host: str = "127.0.0.1") -> list[int]:
    """Ports the kernel hands out for port 0, all held open together so they differ. They come
    from the ephemeral range, so never the well-known 5432 or 9092 of a running `make up`."""
    socks = [socket.socket(socket.AF_INET, socket.SOCK_STREAM) for _ in range(count)]
    try:
        for sock in socks:
            sock.bind((host, 0))
        return [sock.getsockname()[1] for sock in socks]
    finally:
        for sock in socks:
            sock.close()


def tail(path: Path, lines: int = 40) -> str:
    """The last lines of a log, for error messages."""
    try:
        with path.open("rb") as f:
            f.seek(0, os.SEEK_END)
            f.seek(max(0, f.tell() - 64 * 1024))
            text = f.read().decode("utf-8", errors="replace")
    except FileNotFoundError:
        return f"(no log at {path})"
    return "\n".join(text.splitlines()[-lines:])


def wait_until(predicate: Callable[[], bool], timeout: float, interval: float = 0.1) -> bool:
    deadline = time.monotonic() + timeout
    while True:
        if predicate():
            return True
        if time.monotonic() >= deadline:
            return False
        time.sleep(interval)
