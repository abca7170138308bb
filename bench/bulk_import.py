"""Issue 3's bulk-import target: referrals imported per second through `POST /referrals/import`
(NDJSON chunks under the request size limit, each chunk one request), every line a new member,
with coordinators registered so that every new referral is assigned (a third of the lines name a
provider organization, the rest go to the lightest caseload overall).

An import is bound by its one Postgres backend, so the service's rate is measured with two
requests in flight (one per core of this machine: two backends work at once) over an even number
of requests (an odd one would run its last request alone); the rate of one request at a time,
measured first over `ONE_AT_A_TIME` requests, is reported beside it.

The API runs as deploy/k8s runs it, two processes (`API_WORKERS` uvicorn workers standing for
its two replicas), in both layouts: the outbox relay inside the API processes (deploy/k8s, and
`make up` with one process; one relay publishes at a time), and the API with
HEARTH_RELAY_ENABLED=false beside `python -m hearth_platform.relay referral`. The import's rate is the rate referrals are
COMMITTED; how long the relay then takes to publish every ReferralReceived is reported beside it
(polled every 0.1 s, each poll a new connection: ~0.3 s is "already published").

Baseline in the same run: the same rows COPYed by asyncpg into a plain table with no index (what
Postgres itself accepts per second from one client)."""

import asyncio
import subprocess
import sys
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import date
from functools import partial
from pathlib import Path
from typing import Any

import asyncpg
import httpx

from hearth_devstack.processes import free_ports
from hearth_platform.db import asyncpg_dsn

from .http_load import serve, wait_ok
from .infra import vacuum_analyze

CHUNK = 5000
IN_FLIGHT = 2
ONE_AT_A_TIME = 4
# The API as deploy/k8s runs it, two replicas (here two uvicorn workers: one per core), each with
# its relay unless the relay runs apart (one relay publishes at a time: it holds an advisory lock).
# With one process, parsing one list holds up sending the other's rows to Postgres.
API_WORKERS = 2
ORGS = ("org-a", "org-b", "org-c")
COORDINATORS = [(f"bench-{org}-{i}", org) for org in ORGS for i in range(2)]


def _line(run: str, i: int) -> str:
    org = f',"provider_org_id":"{ORGS[i % 9]}"' if i % 9 < len(ORGS) else ""
    return (
        f'{{"member_id":"BI-{run}-{i}","source":"aco","referrer_id":"aco-1",'
        f'"referral_date":"2026-10-01","goals_of_care_discussed":{"true" if i % 2 else "false"}{org}}}\n'
    )


async def _raw_copy(database_url: str, run: str, count: int) -> float:
    """Seconds to COPY `count` rows of the list's columns into an unindexed table."""
    records = [
        (f"BI-{run}-{i}", "aco", "aco-1", date(2026, 10, 1), ORGS[i % 9] if i % 9 < 3 else None, bool(i % 2))
        for i in range(count)
    ]
    conn = await asyncpg.connect(asyncpg_dsn(database_url))
    try:
        await conn.execute(
            "CREATE TEMP TABLE raw_referrals (member_id text, source text, referrer_id text, "
            "referral_date date, provider_org_id text, goals_of_care_discussed boolean)"
        )
        started = time.perf_counter()
        for start in range(0, count, CHUNK):
            await conn.copy_records_to_table("raw_referrals", records=records[start : start + CHUNK])
        return time.perf_counter() - started
    finally:
        await conn.close()


def _send(client: httpx.Client, url: str, chunk: bytes) -> int:
    response = client.post(url, content=chunk, headers={"content-type": "application/x-ndjson"})
    response.raise_for_status()
    return int(response.json()["imported"])


async def _unsent(database_url: str) -> int:
    conn = await asyncpg.connect(asyncpg_dsn(database_url))
    try:
        return int(await conn.fetchval("SELECT count(*) FROM referral.outbox WHERE sent_at IS NULL"))
    finally:
        await conn.close()


def _drain_seconds(database_url: str, limit: float = 180.0) -> float | None:
    """Seconds until the relay has published every staged event (None: not within `limit`): the
    import commits its referrals faster than they are published, so both rates are reported."""
    started = time.perf_counter()
    while asyncio.run(_unsent(database_url)):
        if time.perf_counter() - started > limit:
            return None
        time.sleep(0.1)
    return round(time.perf_counter() - started, 2)


def _import_layout(
    layout: str, env: dict[str, str], log_dir: Path, headers: dict[str, str], run: str, count: int
) -> dict[str, Any]:
    """One layout: the relay inside the API process (`make up`), or the API with
    HEARTH_RELAY_ENABLED=false beside a relay process (production)."""
    (port,) = free_ports(1)
    own = layout == "relay_own_process"
    relay = (
        subprocess.Popen(
            [sys.executable, "-m", "hearth_platform.relay", "referral"],
            env=env,
            stdout=(log_dir / f"relay-import-{layout}.log").open("wb"),
            stderr=subprocess.STDOUT,
        )
        if own
        else None
    )
    # A consumer group of its own: members of the service's group coming and going by twos left
    # the embedded broker's group slow to let the next benchmark's service join (over 60 s).
    api_env = {**env, "HEARTH_CONSUMER_GROUP": f"bench-import-{run}"}
    if own:
        api_env["HEARTH_RELAY_ENABLED"] = "false"
    api = serve(
        "hearth_referral.app:app", port, api_env, log_dir / f"referral-import-{layout}.log", API_WORKERS
    )
    chunks = [
        "".join(_line(run, i) for i in range(start, min(start + CHUNK, count))).encode()
        for start in range(0, count, CHUNK)
    ]
    try:
        wait_ok(f"http://127.0.0.1:{port}/health")
        _drain_seconds(env["HEARTH_DATABASE_URL"])
        imported = 0
        with httpx.Client(timeout=300, headers=headers) as client:
            for coordinator_id, org in COORDINATORS:
                client.post(
                    f"http://127.0.0.1:{port}/coordinators",
                    json={"coordinator_id": coordinator_id, "provider_org_id": org},
                ).raise_for_status()
            send = partial(_send, client, f"http://127.0.0.1:{port}/referrals/import")
            started = time.perf_counter()
            imported += sum(map(send, chunks[:ONE_AT_A_TIME]))
            one_at_a_time = time.perf_counter() - started
            started = time.perf_counter()
            with ThreadPoolExecutor(IN_FLIGHT) as pool:
                in_flight = sum(pool.map(send, chunks[ONE_AT_A_TIME:]))
            elapsed = time.perf_counter() - started
            imported += in_flight
        drained = _drain_seconds(env["HEARTH_DATABASE_URL"])
    except httpx.HTTPStatusError as error:
        # The server log lives in the run's temporary folder: keep its end in the failure.
        log = (log_dir / f"referral-import-{layout}.log").read_text(errors="replace")[-4000:]
        raise RuntimeError(f"{layout}: {error}\n--- server log (end) ---\n{log}") from error
    finally:
        for proc in (api, relay):
            if proc is not None:
                proc.terminate()
                proc.wait(10)
    return {
        "imported": imported,
        "imported_per_s": round(in_flight / elapsed),
        "one_request_at_a_time_per_s": round((imported - in_flight) / one_at_a_time) if one_at_a_time else 0,
        "seconds": round(elapsed + one_at_a_time, 2),
        "all_published_seconds_after_import": drained,
    }


def bulk_import(
    env: dict[str, str], log_dir: Path, headers: dict[str, str], count: int = 60_000
) -> dict[str, Any]:
    in_flight_chunks = -(-count // CHUNK) - ONE_AT_A_TIME
    if in_flight_chunks <= 0 or in_flight_chunks % IN_FLIGHT:
        raise ValueError(f"{count} referrals leave {in_flight_chunks} requests for {IN_FLIGHT} in flight")
    run = uuid.uuid4().hex[:8]
    layouts = {}
    for n, layout in enumerate(("relay_in_process", "relay_own_process")):
        # Each layout from the same start: the first one's 60,000 referrals otherwise leave
        # autovacuum's work (visibility, statistics of five tables) to land in the second's window.
        asyncio.run(vacuum_analyze(env["HEARTH_DATABASE_URL"]))
        layouts[layout] = _import_layout(layout, env, log_dir, headers, f"{run}-{n}", count)
    raw_seconds = asyncio.run(_raw_copy(env["HEARTH_DATABASE_URL"], run, count))
    raw_per_s = round(count / raw_seconds)
    in_process = layouts["relay_in_process"]
    return {
        "referrals": count,
        "chunk_lines": CHUNK,
        "coordinators": len(COORDINATORS),
        "in_flight": IN_FLIGHT,
        "api_processes": API_WORKERS,
        "raw_copy_per_s": raw_per_s,
        # The relay-in-process numbers at the top level, as before this file measured two layouts.
        **{k: v for k, v in in_process.items() if k != "all_published_seconds_after_import"},
        "ratio_to_raw_copy": round(in_process["imported_per_s"] / raw_per_s, 3),
        "layouts": layouts,
    }
