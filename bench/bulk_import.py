"""Issue 3's bulk-import target: referrals imported per second through `POST /referrals/import`
(NDJSON chunks under the request size limit, each chunk one request), every line a new member,
with coordinators registered so that every new referral is assigned (a third of the lines name a
provider organization, the rest go to the lightest caseload overall).

An import is bound by its one Postgres backend, so the service's rate is measured with two
requests in flight (one per core of this machine: two backends work at once); the rate of one
request at a time is reported beside it.

Baseline in the same run: the same rows COPYed by asyncpg into a plain table with no index (what
Postgres itself accepts per second from one client)."""

import asyncio
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

CHUNK = 5000
IN_FLIGHT = 2
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


def bulk_import(
    env: dict[str, str], log_dir: Path, headers: dict[str, str], count: int = 50_000
) -> dict[str, Any]:
    (port,) = free_ports(1)
    api = serve("hearth_referral.app:app", port, env, log_dir / "referral-import.log")
    run = uuid.uuid4().hex[:8]
    chunks = [
        "".join(_line(run, i) for i in range(start, min(start + CHUNK, count))).encode()
        for start in range(0, count, CHUNK)
    ]
    try:
        wait_ok(f"http://127.0.0.1:{port}/health")
        imported = 0
        with httpx.Client(timeout=300, headers=headers) as client:
            for coordinator_id, org in COORDINATORS:
                client.post(
                    f"http://127.0.0.1:{port}/coordinators",
                    json={"coordinator_id": coordinator_id, "provider_org_id": org},
                ).raise_for_status()
            send = partial(_send, client, f"http://127.0.0.1:{port}/referrals/import")
            half = len(chunks) // 2
            started = time.perf_counter()
            imported += sum(map(send, chunks[:half]))
            one_at_a_time = time.perf_counter() - started
            started = time.perf_counter()
            with ThreadPoolExecutor(IN_FLIGHT) as pool:
                in_flight = sum(pool.map(send, chunks[half:]))
            elapsed = time.perf_counter() - started
            imported += in_flight
    finally:
        api.terminate()
        api.wait(10)
    raw_seconds = asyncio.run(_raw_copy(env["HEARTH_DATABASE_URL"], run, count))
    return {
        "referrals": count,
        "imported": imported,
        "chunk_lines": CHUNK,
        "coordinators": len(COORDINATORS),
        "in_flight": IN_FLIGHT,
        "imported_per_s": round(in_flight / elapsed),
        "one_request_at_a_time_per_s": round((imported - in_flight) / one_at_a_time) if one_at_a_time else 0,
        "seconds": round(elapsed + one_at_a_time, 2),
        "raw_copy_per_s": round(count / raw_seconds),
        "ratio_to_raw_copy": round(in_flight / elapsed / (count / raw_seconds), 3),
    }
