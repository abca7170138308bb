"""Issue 3's bulk-import target: referrals imported per second through `POST /referrals/import`
(NDJSON chunks under the request size limit, each chunk one request), every line a new member."""

import time
import uuid
from pathlib import Path
from typing import Any

import httpx

from hearth_devstack.processes import free_ports

from .http_load import serve, wait_ok

CHUNK = 5000


def bulk_import(
    env: dict[str, str], log_dir: Path, headers: dict[str, str], count: int = 50_000
) -> dict[str, Any]:
    (port,) = free_ports(1)
    api = serve("hearth_referral.app:app", port, env, log_dir / "referral-import.log")
    run = uuid.uuid4().hex[:8]
    chunks = [
        "".join(
            f'{{"member_id":"BI-{run}-{i}","source":"aco","referrer_id":"aco-1","referral_date":"2026-10-01"}}\n'
            for i in range(start, min(start + CHUNK, count))
        ).encode()
        for start in range(0, count, CHUNK)
    ]
    try:
        wait_ok(f"http://127.0.0.1:{port}/health")
        imported = 0
        with httpx.Client(timeout=300) as client:
            started = time.perf_counter()
            for chunk in chunks:
                response = client.post(
                    f"http://127.0.0.1:{port}/referrals/import",
                    content=chunk,
                    headers={**headers, "content-type": "application/x-ndjson"},
                )
                response.raise_for_status()
                imported += response.json()["imported"]
            elapsed = time.perf_counter() - started
    finally:
        api.terminate()
        api.wait(10)
    return {
        "referrals": count,
        "imported": imported,
        "chunk_lines": CHUNK,
        "imported_per_s": round(imported / elapsed),
        "seconds": round(elapsed, 2),
    }
