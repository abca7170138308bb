"""`make demo` (`hearth demo`): a synthetic population of a health plan's members driven through
the running stack's public APIs and topics over six months, each month closed in billing and
scored in quality, then an HTML report with plots under .hearth/demo/ and a short summary.

Rerunnable against the same stack: each run has its own member and organization ids and takes
six billing months that are still open (see demo_calendar). Deterministic for a `--seed`."""

import argparse
import asyncio
import os
import time
import uuid
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from hearth_devstack.demo_calendar import Month
    from hearth_devstack.demo_report import Findings

SERVICES = {"referral": 8001, "eligibility": 8002, "billing": 8003, "quality": 8004}


@dataclass(frozen=True)
class DemoConfig:
    members: int
    seed: int
    urls: dict[str, str]
    kafka_bootstrap: str
    out_dir: Path
    end_month: str | None = None
    progress: bool = True


@dataclass(frozen=True)
class DemoResult:
    run: str
    window: list[str]
    report: Path
    summary: str
    findings: "Findings"


def default_urls() -> dict[str, str]:
    host = os.environ.get("HEARTH_DEMO_HOST", "127.0.0.1")
    return {name: f"http://{host}:{port}" for name, port in SERVICES.items()}


async def run_demo(config: DemoConfig) -> DemoResult:
    from tqdm import tqdm

    from hearth_devstack import demo_report
    from hearth_devstack.demo_api import Api
    from hearth_devstack.demo_calendar import Month, choose_window
    from hearth_devstack.demo_driver import Driver, Run
    from hearth_devstack.demo_population import ORGANIZATIONS, org_id, population
    from hearth_devstack.demo_tap import ClaimsFeed, Tap

    started = time.monotonic()
    api = Api(config.urls)
    run = uuid.uuid4().hex[:6]
    tap, feed = Tap(config.kafka_bootstrap, f"D{run}-"), ClaimsFeed(config.kafka_bootstrap)
    try:
        for name in SERVICES:
            health = await api.plan().get(f"{config.urls[name]}/health")
            if health.status_code != 200:
                raise SystemExit(f"demo: {name} at {config.urls[name]} is not healthy; run `make up` first")
        closed: dict[Month, bool] = {}
        for month in _candidates(config.end_month):
            answer = await api.send(api.plan(), "GET", "billing", f"/months/{month}")
            closed[month] = answer.json()["status"] == "closed"
        end = Month.parse(config.end_month) if config.end_month else None
        window = choose_window(lambda m: closed.get(m, False), today=date.today(), end=end)
        members = population(config.members, config.seed, run, window)
        state = Run(run, config.seed, window, members, date.today(), progress=config.progress)
        await tap.start()
        driver = Driver(api, tap, state, feed)
        print(
            f"Hearth demo {run}: {len(members):,} members, months {window[0]} to {window[-1]}, seed {config.seed}"
        )
        orgs = [org_id(run, i) for i in range(len(ORGANIZATIONS))]
        await driver.register_coordinators(orgs)
        await driver.load_roster()
        with tqdm(total=len(window), desc="months", unit="month", disable=not config.progress) as bar:
            for number, month in enumerate(window):
                await driver.month(number, month, bar)
                bar.update(1)
        started_report = time.monotonic()
        findings = await demo_report.collect(api, tap, run, window, orgs, state.claims_paid)
        state.seconds["report (reading the APIs)"] += time.monotonic() - started_report
        html = demo_report.render(
            findings, members=config.members, seed=config.seed, elapsed_s=time.monotonic() - started
        )
        path = demo_report.write(html, config.out_dir, run)
        state.counts["requests sent again after a 500"] = api.retried_errors
        summary = demo_report.summary(findings, path, state.counts, state.seconds)
        return DemoResult(run, [str(m) for m in window], path, summary, findings)
    finally:
        await tap.stop()
        await feed.stop()
        await api.close()


def _candidates(end_month: str | None) -> list["Month"]:
    """The months the window search may look at: five years back from its end."""
    from hearth_devstack.demo_calendar import Month

    last = Month.parse(end_month) if end_month else Month.of(date.today()).plus(-1)
    return [last.plus(-k) for k in range(60)]


def main(argv: list[str] | None = None) -> int:
    from hearth_devstack.stack import Layout, find_root

    parser = argparse.ArgumentParser(prog="hearth demo", description=__doc__)
    parser.add_argument("--members", type=int, default=20_000, help="population size (default 20,000)")
    parser.add_argument("--seed", type=int, default=2026, help="the same seed gives the same population")
    parser.add_argument("--end-month", help="last billing month to use (YYYY-MM); default: last month")
    parser.add_argument("--kafka", default=os.environ.get("HEARTH_KAFKA_BOOTSTRAP", "127.0.0.1:9092"))
    parser.add_argument("--out", type=Path, default=None, help="report directory (default .hearth/demo)")
    argv = list(argv) if argv is not None else None
    if argv and argv[0] == "--":
        argv = argv[1:]  # `hearth demo -- --members 300`: the CLI passes the separator on
    args = parser.parse_args(argv)
    if args.members < 50:
        parser.error("--members must be at least 50")
    config = DemoConfig(
        members=args.members,
        seed=args.seed,
        urls=default_urls(),
        kafka_bootstrap=args.kafka,
        out_dir=args.out or Layout(find_root()).home / "demo",
        end_month=args.end_month,
    )
    result = asyncio.run(run_demo(config))
    print(result.summary)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
