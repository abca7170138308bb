"""Issue 3's case-finding target: 5,000,000 claim lines from a CSV file to referred candidates
(`POST /claims/import`: COPY into staging, bad-line check, signals kept, members scored in SQL,
candidates referred with their evidence, one commit) within 120 s. The baseline is a raw COPY of
the same file into a table of the same text columns, in the same run and database."""

import asyncio
import random
import tempfile
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import asyncpg
import httpx

from hearth_devstack.processes import free_ports
from hearth_devstack.tokens import bearer_headers
from hearth_platform.db import asyncpg_dsn
from hearth_referral.claims_layout import CLAIM_CSV_COLUMNS

from .http_load import serve, wait_ok
from .readme_table import met

LINES_PER_MEMBER = 20
SICK_SHARE = 0.03
ROUTINE_DX = ("I10", "E119", "Z0000", "M545", "E785", "J069", "K219", "R079")
SEVERE_DX = ("I509", "I110", "J449", "C787", "K7031", "N186", "G309")


def write_claims(path: Path, lines: int, run: str, seed: int = 3) -> int:
    """A synthetic claims file: mostly routine professional lines, 3 % of members with a severe
    condition, emergency admissions, ED visits and oxygen. Returns the number of members."""
    rng = random.Random(seed)
    members = max(lines // LINES_PER_MEMBER, 1)
    with path.open("w", encoding="utf-8") as f:
        f.write(",".join(CLAIM_CSV_COLUMNS) + "\n")
        written = 0
        for m in range(members):
            member = f"CF-{run}-{m}"
            sick = rng.random() < SICK_SHARE
            severe = rng.choice(SEVERE_DX)
            batch = []
            for n in range(LINES_PER_MEMBER):
                if written + len(batch) >= lines:
                    break
                month = 1 + (n % 10)
                day = f"2026-{month:02d}-{1 + n % 27:02d}"
                dx = f"{severe};{rng.choice(ROUTINE_DX)}" if sick and n % 4 == 0 else rng.choice(ROUTINE_DX)
                if sick and n in (1, 5):
                    row = (
                        f"{member}-{n}",
                        "1",
                        member,
                        "inpatient",
                        day,
                        day,
                        dx,
                        "",
                        "",
                        "",
                        "emergency",
                        "",
                        "01",
                        "9000.00",
                    )
                elif sick and n == 9:
                    row = (
                        f"{member}-{n}",
                        "1",
                        member,
                        "outpatient",
                        day,
                        day,
                        dx,
                        "99284",
                        "0450",
                        "23",
                        "",
                        "true",
                        "",
                        "450.00",
                    )
                elif sick and n == 12:
                    row = (
                        f"{member}-{n}",
                        "1",
                        member,
                        "dme",
                        day,
                        day,
                        dx,
                        "E1390",
                        "",
                        "",
                        "",
                        "",
                        "",
                        "120.00",
                    )
                else:
                    row = (
                        f"{member}-{n}",
                        "1",
                        member,
                        "professional",
                        day,
                        day,
                        dx,
                        "99213",
                        "",
                        "11",
                        "",
                        "",
                        "",
                        "85.00",
                    )
                batch.append(",".join(row))
            f.write("\n".join(batch) + "\n")
            written += len(batch)
    return members


async def raw_copy(database_url: str, path: Path) -> float:
    """Seconds for a bare COPY of the file into an unlogged table of text columns."""
    conn = await asyncpg.connect(asyncpg_dsn(database_url))
    table = f"raw_claims_{uuid.uuid4().hex[:8]}"
    try:
        columns = ", ".join(f"{c} text" for c in CLAIM_CSV_COLUMNS)
        await conn.execute(f"CREATE UNLOGGED TABLE public.{table} ({columns})")
        started = time.perf_counter()
        await conn.copy_to_table(table, source=path, schema_name="public", format="csv", header=True)
        elapsed = time.perf_counter() - started
        await conn.execute(f"DROP TABLE public.{table}")
        return elapsed
    finally:
        await conn.close()


def _chunks(path: Path) -> Iterator[bytes]:
    with path.open("rb") as f:
        while chunk := f.read(1 << 20):
            yield chunk


def case_finding(env: dict[str, str], log_dir: Path, lines: int = 5_000_000) -> dict[str, Any]:
    run = uuid.uuid4().hex[:6]
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "claims.csv"
        members = write_claims(path, lines, run)
        size = path.stat().st_size
        copy_seconds = asyncio.run(raw_copy(env["HEARTH_DATABASE_URL"], path))
        (port,) = free_ports(1)
        api = serve("hearth_referral.app:app", port, env, log_dir / "referral-case-finding.log")
        try:
            wait_ok(f"http://127.0.0.1:{port}/health")
            with httpx.Client(timeout=None, headers=bearer_headers(client="bench")) as client:
                started = time.perf_counter()
                response = client.post(
                    f"http://127.0.0.1:{port}/claims/import",
                    params={"as_of": "2026-11-15"},
                    content=_chunks(path),
                    headers={"content-type": "text/csv"},
                )
                elapsed = time.perf_counter() - started
            response.raise_for_status()
            result = response.json()
        finally:
            api.terminate()
            api.wait(10)
    return {
        "claim_lines": lines,
        "members": members,
        "file_mb": round(size / 1e6, 1),
        "accepted": result["accepted"],
        "rejected": result["rejected"],
        "signal_lines": result["signal_lines"],
        "referred": result["referred"],
        "seconds": round(elapsed, 2),
        "lines_per_s": round(lines / elapsed),
        "raw_copy_seconds": round(copy_seconds, 2),
        "raw_copy_lines_per_s": round(lines / copy_seconds),
        "ratio_to_raw_copy": round(copy_seconds / elapsed, 3),
    }


def rows(ctx: Any) -> list[tuple[str, ...]]:
    """The benchmark as `python -m bench --only case_finding` runs it (ctx: BenchContext)."""
    from bench.__main__ import write

    result = case_finding(ctx.env, ctx.logs, lines=int(5_000_000 * ctx.scale))
    write(ctx, "case_finding", result)
    return [
        (
            f"case-finding over {result['claim_lines']:,} claim lines (COPY, score in SQL, refer)",
            f"{result['seconds']} s ({result['lines_per_s']:,} lines/s, {result['referred']:,} referred)",
            f"raw COPY {result['raw_copy_seconds']} s ({result['raw_copy_lines_per_s']:,} lines/s)",
            "<= 120 s for 5,000,000 lines (issue 3)",
            met(result["seconds"] <= 120 and result["claim_lines"] >= 5_000_000),
        )
    ]
