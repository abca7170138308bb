"""Baseline (c): a bare FastAPI JSON endpoint against `POST /referrals` with its database commit,
both served by uvicorn with one worker and loaded by `wrk` (a separate C process) with the same
connection count. Every referral request carries a new member id, so each one inserts."""

import functools
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx

from hearth_devstack.processes import free_ports

_LUA = """
counter = 0
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
request = function()
  counter = counter + 1
  local body = string.format('{"member_id":"B-%s-%d","source":"aco","referrer_id":"aco-1",' ..
    '"referral_date":"2026-10-01","goals_of_care_discussed":true}', RUN, counter)
  return wrk.format(nil, PATH, nil, body)
end
"""

#: Issue 3: p99 under 50 ms at a steady 500 requests a second.
STEADY_RATE = 500
STEADY_CONNECTIONS = 50

_LATENCY = re.compile(r"^\s+(50|75|90|99)%\s+([\d.]+)(us|ms|s)\s*$", re.M)
_RATE = re.compile(r"Requests/sec:\s+([\d.]+)")
_NON_2XX = re.compile(r"Non-2xx or 3xx responses:\s+(\d+)")


def require_wrk() -> str:
    path = shutil.which("wrk")
    if path is None:
        raise SystemExit(
            "wrk is not installed: `apt-get install -y wrk` (make bench does this when run as root)"
        )
    return path


def wrk(url: str, script: str, *, seconds: int, connections: int, token: str = "") -> dict[str, Any]:
    """Load `url` with `wrk` driven by the Lua `script` (one thread); the rate, latency
    percentiles and non-2xx count it reports. `token` goes out as a bearer token."""
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as lua:
        lua.write(script)
    auth = ("-H", f"Authorization: Bearer {token}") if token else ()
    out = subprocess.run(
        [require_wrk(), "-t1", f"-c{connections}", f"-d{seconds}s", "--latency", *auth, "-s", lua.name, url],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    Path(lua.name).unlink()
    scale = {"us": 0.001, "ms": 1.0, "s": 1000.0}
    rate = _RATE.search(out)
    non_2xx = _NON_2XX.search(out)
    return {
        "requests_per_s": round(float(rate.group(1))) if rate else 0,
        **{f"p{p}_ms": round(float(v) * scale[u], 2) for p, v, u in _LATENCY.findall(out)},
        "errors": int(non_2xx.group(1)) if non_2xx else 0,
    }


def run_wrk(
    url: str, path: str, *, seconds: int, connections: int, run_id: str, token: str = ""
) -> dict[str, Any]:
    """POST a new referral (a new member each time) to `path`."""
    script = f'RUN = "{run_id}"\nPATH = "{path}"\n' + _LUA
    return wrk(url, script, seconds=seconds, connections=connections, token=token)


#: A steady offered rate (wrk has no constant-rate mode): each connection waits a random delay
#: (uniform, mean `interval`) before each request. A connection's cycle is that delay plus the
#: response time, so a short calibration run measures the cycle's overhead and the measured run
#: shortens the delay by it, offering `rate` requests a second. wrk reports the latency of each
#: request from its send.
_STEADY = """
INTERVAL_MS = {interval_ms}
delay = function()
  return math.random(0, 2 * INTERVAL_MS)
end
"""


def run_steady(
    url: str,
    path: str,
    *,
    rate: int,
    seconds: int,
    connections: int,
    run_id: str,
    token: str = "",
) -> dict[str, Any]:
    """POST new referrals at `rate` requests a second; the achieved rate and latencies."""

    def run(interval_ms: int, run_seconds: int, suffix: str) -> dict[str, Any]:
        script = (
            f'RUN = "{run_id}{suffix}"\nPATH = "{path}"\n' + _LUA + _STEADY.format(interval_ms=interval_ms)
        )
        return wrk(url, script, seconds=run_seconds, connections=connections, token=token)

    nominal_ms = 1000 * connections / rate
    probe = run(round(nominal_ms), 3, "c")
    overhead_ms = max(1000 * connections / max(probe["requests_per_s"], 1) - nominal_ms, 0)
    interval_ms = max(round(nominal_ms - overhead_ms), 1)
    result = run(interval_ms, seconds, "")
    return {**result, "offered_per_s": rate, "connections": connections, "mean_delay_ms": interval_ms}


def cpu_seconds(pid: int) -> float:
    """User + system CPU the process `pid` and its live children (uvicorn's workers) have used
    so far (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    own = (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    children = Path(f"/proc/{pid}/task/{pid}/children")
    kids = children.read_text().split() if children.exists() else []
    return own + sum(cpu_seconds(int(kid)) for kid in kids)


def with_server_cpu(pid: int, seconds: int, load: Callable[[], dict[str, Any]]) -> dict[str, Any]:
    """`load()`'s result with the server's CPU per request during it (`cpu_us_per_request`): what
    a request costs the service whatever else the machine runs, unlike the rate."""
    before = cpu_seconds(pid)
    result = load()
    served = result["requests_per_s"] * seconds
    result["cpu_us_per_request"] = round((cpu_seconds(pid) - before) / served * 1e6) if served else None
    return result


def serve(app: str, port: int, env: dict[str, str], log: Path, workers: int = 1) -> subprocess.Popen[bytes]:
    """uvicorn serving `app`, with `workers` worker processes (one: uvicorn runs it in-process)."""
    return subprocess.Popen(
        [sys.executable, "-m", "uvicorn", app, "--host", "127.0.0.1", "--port", str(port)]
        + (["--workers", str(workers)] if workers > 1 else [])
        + ["--no-access-log", "--log-level", "warning"],
        env=env,
        stdout=log.open("wb"),
        stderr=subprocess.STDOUT,
    )


def wait_ok(url: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    last = "no answer"
    while time.monotonic() < deadline:
        try:
            response = httpx.get(url, timeout=1)
            if response.status_code == 200:
                return
            last = f"{response.status_code} {response.text[:300]}"
        except httpx.TransportError as error:
            last = type(error).__name__
        time.sleep(0.2)
    raise RuntimeError(f"{url} did not answer 200 within {timeout}s (last: {last})")


def http_endpoints(
    env: dict[str, str], log_dir: Path, token: str, seconds: int = 10, connections: int = 32
) -> dict[str, Any]:
    """The bare endpoint, then `POST /referrals` in the two ways a deployment runs the referral
    service: relay inside the API process (`make up`), and API with HEARTH_RELAY_ENABLED=false
    beside a relay process (`python -m hearth_platform.relay referral`). Events are published in
    both, on the same machine, during the measurement. Each layout is loaded flat out (the
    throughput), then at a steady 500 requests a second (the latency there)."""
    (bare_port,) = free_ports(1)
    bare = serve("bench.bare_app:app", bare_port, env, log_dir / "bare.log")
    try:
        wait_ok(f"http://127.0.0.1:{bare_port}/docs")
        run_wrk(f"http://127.0.0.1:{bare_port}", "/echo", seconds=2, connections=connections, run_id="warm")
        bare_result = with_server_cpu(
            bare.pid,
            seconds,
            lambda: run_wrk(
                f"http://127.0.0.1:{bare_port}",
                "/echo",
                seconds=seconds,
                connections=connections,
                run_id="bare",
            ),
        )
    finally:
        bare.terminate()
        bare.wait(10)
    results = {}
    for layout in ("relay_in_process", "relay_own_process"):
        (port,) = free_ports(1)
        api_env = {**env, "HEARTH_RELAY_ENABLED": "false"} if layout == "relay_own_process" else env
        relay = (
            subprocess.Popen(
                [sys.executable, "-m", "hearth_platform.relay", "referral"],
                env=env,
                stdout=(log_dir / "relay.log").open("wb"),
                stderr=subprocess.STDOUT,
            )
            if layout == "relay_own_process"
            else None
        )
        api = serve("hearth_referral.app:app", port, api_env, log_dir / f"referral-{layout}.log")
        try:
            wait_ok(f"http://127.0.0.1:{port}/health")
            run_id = f"{layout}-{int(time.time())}"
            run_wrk(
                f"http://127.0.0.1:{port}",
                "/referrals",
                seconds=2,
                connections=connections,
                run_id=run_id + "w",
                token=token,
            )
            results[layout] = with_server_cpu(
                api.pid,
                seconds,
                functools.partial(
                    run_wrk,
                    f"http://127.0.0.1:{port}",
                    "/referrals",
                    seconds=seconds,
                    connections=connections,
                    run_id=run_id,
                    token=token,
                ),
            )
            results[layout]["steady"] = run_steady(
                f"http://127.0.0.1:{port}",
                "/referrals",
                rate=STEADY_RATE,
                seconds=seconds,
                connections=STEADY_CONNECTIONS,
                run_id=run_id + "s",
                token=token,
            )
        finally:
            for proc in (api, relay):
                if proc is not None:
                    proc.terminate()
                    proc.wait(10)
        results[layout]["ratio"] = round(results[layout]["requests_per_s"] / bare_result["requests_per_s"], 3)
    return {
        "connections": connections,
        "seconds": seconds,
        "bare_fastapi": bare_result,
        "post_referrals": results,
    }
