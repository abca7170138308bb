"""The demo's report: what the services say happened, read back from their APIs and topics.

Numbers come from the referral service's conversion report (funnel), the referral and assessment
events on `referral.events` (days from referral to assessment), billing's invoices (enrolment by
tier, PMPM paid), billing's economic evaluation (claims cost over the member-months billing paid,
from the claim lines billing consumed on `claims.lines`) and quality's measure results (scores by
organization)."""

import asyncio
import statistics
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from html import escape
from pathlib import Path
from typing import Any

from hearth_devstack import demo_svg
from hearth_devstack.demo_api import Api
from hearth_devstack.demo_calendar import Month
from hearth_devstack.demo_tap import Tap

SOURCES = ("ehr", "aco", "care_manager", "algorithm")


@dataclass
class Findings:
    run: str
    window: list[Month]
    funnel: dict[str, dict[str, int]] = field(default_factory=dict)
    days_to_assessment: dict[str, list[int]] = field(default_factory=dict)
    tiers: dict[str, Counter[str]] = field(default_factory=dict)
    paid: dict[str, dict[str, Decimal]] = field(default_factory=dict)
    member_months: dict[str, int] = field(default_factory=dict)
    claims_cost: dict[str, Decimal] = field(default_factory=dict)
    quality: dict[str, list[dict[str, Any]]] = field(default_factory=dict)  # org -> last month's results
    invoice_ids: list[str] = field(default_factory=list)


async def collect(
    api: Api,
    tap: Tap,
    run: str,
    window: list[Month],
    orgs: list[str],
    claims_paid: dict[tuple[str, str], Decimal],
) -> Findings:
    f = Findings(run, window)
    span = {"referred_from": window[0].first_day.isoformat(), "referred_to": window[-1].last_day.isoformat()}
    f.funnel = {s: {"referrals": 0, "assessed": 0, "enrolled": 0} for s in SOURCES}
    for org in orgs:
        answer = await api.send(api.org(org), "GET", "referral", "/reports/conversion", params=span)
        for row in answer.json()["sources"]:
            for stage in ("referrals", "assessed", "enrolled"):
                f.funnel[row["source"]][stage] += row[stage]

    received = {e["referral_id"]: e for e in tap.events("ReferralReceived")}
    f.days_to_assessment = {s: [] for s in SOURCES}
    for e in tap.events("AssessmentCompleted"):
        referral = received.get(e["referral_id"])
        if referral:
            days = (date.fromisoformat(e["assessed_on"]) - date.fromisoformat(referral["referral_date"])).days
            f.days_to_assessment[referral["source"]].append(days)

    for month in window:
        summaries = (
            await api.send(api.plan(), "GET", "billing", "/invoices", params={"month": str(month)})
        ).json()
        tiers: Counter[str] = Counter()
        paid: dict[str, Decimal] = defaultdict(Decimal)
        sent = Decimal(0)  # what the plan sent for these member-months (the stream carries the same lines)
        for summary in summaries:
            if summary["provider_org_id"] not in orgs:
                continue
            f.invoice_ids.append(summary["invoice_id"])
            invoice = (
                await api.send(api.plan(), "GET", "billing", f"/invoices/{summary['invoice_id']}")
            ).json()
            paid["total"] += Decimal(invoice["total_amount"])
            for line in invoice["lines"]:
                paid[line["kind"]] += Decimal(line["amount"])
                if line["kind"] == "pmpm":
                    tiers[line["tier"]] += 1
                    sent += claims_paid.get((line["member_id"], str(month)), Decimal(0))
        f.tiers[str(month)] = tiers
        f.paid[str(month)] = dict(paid)
        f.member_months[str(month)] = sum(tiers.values())
        f.claims_cost[str(month)] = await _claims_cost(api, month, orgs, sent)

    f.quality = await _scores(api, orgs, str(window[-1]))
    return f


async def _claims_cost(api: Api, month: Month, orgs: list[str], sent: Decimal) -> Decimal:
    """Billing's claims cost of the month's paid member-months (its economic evaluation, the
    "after enrolment" cost of a one-month window) for the demo's organizations. Billing consumes
    `claims.lines` asynchronously, so the figure is read again until it reaches what the plan
    streamed, for a while; after that billing's figure is shown as it stands."""
    params = {"from": str(month), "to": str(month)}
    cost = Decimal(0)
    for _ in range(120):
        answer = await api.send(api.plan(), "GET", "billing", "/reports/economic-evaluation", params=params)
        rows = answer.json()["rows"]
        cost = sum(
            (Decimal(r["claims_cost_after"]) for r in rows if r["provider_org_id"] in orgs), Decimal(0)
        )
        if cost >= sent:
            return cost
        await asyncio.sleep(0.25)
    return cost


async def _scores(api: Api, orgs: list[str], period: str) -> dict[str, list[dict[str, Any]]]:
    """Quality scores a month when billing closes it (a run triggered by `MonthClosed`): wait
    for that run, then read each organization's current results (none for an organization
    with nobody enrolled)."""
    for _ in range(1200):
        runs = await api.send(
            api.plan(),
            "GET",
            "quality",
            "/measures/runs",
            params={"period": period, "provider_org_id": orgs[0]},
        )
        if any(r["trigger"] == "month_closed" for r in runs.json()):
            break
        await asyncio.sleep(0.5)
    else:
        raise TimeoutError(f"demo: quality did not score {period} after its close")
    scores = {}
    for org in orgs:
        answer = await api.send(
            api.plan(),
            "GET",
            "quality",
            "/measures/results",
            params={"period": period, "provider_org_id": org},
        )
        scores[org] = list(answer.json()["results"])
    return scores


def per_member_month(amount: Decimal, member_months: int) -> float:
    return float(amount / member_months) if member_months else 0.0


def render(f: Findings, *, members: int, seed: int, elapsed_s: float) -> str:
    months = [str(m) for m in f.window]
    funnel = demo_svg.bars(
        "Referral funnel by source",
        list(SOURCES),
        {
            stage: [float(f.funnel[s][stage]) for s in SOURCES]
            for stage in ("referrals", "assessed", "enrolled")
        },
        y_label="referrals",
        plot_id="plot-funnel",
    )
    edges = [0, 7, 14, 21, 28, 35, 42, 60]
    labels = [f"{a}-{b - 1}" for a, b in zip(edges, edges[1:], strict=False)] + [f"{edges[-1]}+"]

    def binned(days: list[int]) -> list[float]:
        counts = [0.0] * len(labels)
        for d in days:
            counts[sum(d >= e for e in edges[1:])] += 1
        return counts

    days_plot = demo_svg.bars(
        "Days from referral to initial assessment",
        labels,
        {s: binned(f.days_to_assessment[s]) for s in SOURCES if f.days_to_assessment[s]},
        y_label="assessments",
        plot_id="plot-days",
        stacked=True,
    )
    tier_names = sorted({t for c in f.tiers.values() for t in c})
    tiers = demo_svg.bars(
        "Enrolment by tier (member-months billed)",
        months,
        {t: [float(f.tiers[m][t]) for m in months] for t in tier_names},
        y_label="member-months",
        plot_id="plot-tiers",
        stacked=True,
    )
    pmpm = demo_svg.lines(
        "PMPM paid against claims cost, per enrolled member-month",
        months,
        {
            "PMPM paid": [
                per_member_month(f.paid[m].get("pmpm", Decimal(0)), f.member_months[m]) for m in months
            ],
            "all invoice lines": [
                per_member_month(f.paid[m].get("total", Decimal(0)), f.member_months[m]) for m in months
            ],
            "claims cost": [per_member_month(f.claims_cost[m], f.member_months[m]) for m in months],
        },
        y_label="$ per member-month",
        plot_id="plot-pmpm",
    )
    shares = sorted(  # measures that are shares (no multiplier: rates per 1,000 are in the table)
        {
            r["measure_id"]
            for rs in f.quality.values()
            for r in rs
            if r["reported"]
            and r["rate"] is not None
            and Decimal(r["scaled_rate"]) == Decimal(r["rate"]) <= 1
        }
    )
    orgs = sorted(f.quality)
    quality = demo_svg.bars(
        f"Quality scores by organization, {months[-1]} (rates 0-1)",
        shares,
        {org.removeprefix(f"demo-{f.run}-"): [_rate(f.quality[org], s) for s in shares] for org in orgs},
        y_label="rate",
        plot_id="plot-quality",
        slanted=True,
    )
    return _page(
        f, members=members, seed=seed, elapsed_s=elapsed_s, plots=[funnel, days_plot, tiers, pmpm, quality]
    )


def _rate(results: list[dict[str, Any]], measure: str) -> float:
    found = [r for r in results if r["measure_id"] == measure and r["reported"] and r["rate"] is not None]
    return float(found[0]["rate"]) if found else 0.0


def _page(f: Findings, *, members: int, seed: int, elapsed_s: float, plots: list[str]) -> str:
    funnel_rows = "".join(
        f"<tr><td>{s}</td><td>{f.funnel[s]['referrals']}</td><td>{f.funnel[s]['assessed']}</td>"
        f"<td>{f.funnel[s]['enrolled']}</td><td>{_median(f.days_to_assessment[s])}</td></tr>"
        for s in SOURCES
    )
    paid_rows = "".join(
        f"<tr><td>{m}</td><td>{f.member_months[m]}</td><td>{_money(f.paid[m].get('pmpm'))}</td>"
        f"<td>{_money(f.paid[m].get('assessment_fee'))}</td><td>{_money(f.paid[m].get('adjustment'))}</td>"
        f"<td>{_money(f.paid[m].get('total'))}</td><td>{_money(f.claims_cost[m])}</td></tr>"
        for m in (str(x) for x in f.window)
    )
    orgs = sorted(f.quality)
    measures = sorted({r["measure_id"] for rs in f.quality.values() for r in rs})
    quality_head = "".join(f"<th>{escape(o.removeprefix(f'demo-{f.run}-'))}</th>" for o in orgs)
    quality_rows = "".join(
        f"<tr><td>{escape(m)}</td>" + "".join(f"<td>{_score(f.quality[o], m)}</td>" for o in orgs) + "</tr>"
        for m in measures
    )
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Hearth demo {f.run}</title>
<style>body{{font-family:system-ui,sans-serif;margin:2em;max-width:960px}}table{{border-collapse:collapse;margin:1em 0}}
td,th{{border:1px solid #ccc;padding:3px 8px;text-align:right}}td:first-child,th:first-child{{text-align:left}}
svg{{display:block;margin:1.5em 0}}</style></head><body>
<h1>Hearth demo run {f.run}</h1>
<p>{members:,} synthetic members (seed {seed}), billing months {f.window[0]} to {f.window[-1]}, generated
{datetime.now().strftime("%Y-%m-%d %H:%M")} in {elapsed_s:.0f} s. Every number below was read back from the
services: the referral service's conversion report, the referral and assessment events on
<code>referral.events</code>, billing's invoices, billing's economic evaluation (claims cost of the
member-months billing paid, from the claim lines it consumed on <code>claims.lines</code>) and quality's
measure results.</p>
{plots[0]}
<table><tr><th>source</th><th>referrals</th><th>assessed</th><th>enrolled</th><th>median days to assessment</th></tr>{funnel_rows}</table>
{plots[1]}
{plots[2]}
{plots[3]}
<table><tr><th>month</th><th>member-months</th><th>PMPM</th><th>assessment fees</th><th>adjustments</th><th>invoiced</th><th>claims cost</th></tr>{paid_rows}</table>
{plots[4]}
<p>Every measure's score (numerator/denominator) for {f.window[-1]}; "-" below the measure's minimum count
or nobody to measure.</p>
<table><tr><th>measure</th>{quality_head}</tr>{quality_rows}</table>
</body></html>
"""


def _score(results: list[dict[str, Any]], measure: str) -> str:
    for r in results:
        if r["measure_id"] == measure:
            shown = (
                f"{Decimal(r['scaled_rate']):,.3f}" if r["reported"] and r["scaled_rate"] is not None else "-"
            )
            return f"{shown} ({r['numerator']}/{r['denominator']})"
    return "-"


def _median(values: list[int]) -> str:
    return f"{statistics.median(values):g}" if values else "-"


def _money(value: Decimal | None) -> str:
    return f"${(value or Decimal(0)):,.2f}"


def write(html: str, directory: Path, run: str) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"demo-{run}.html"
    path.write_text(html, encoding="utf-8")
    return path


def summary(f: Findings, path: Path, counts: Counter[str], seconds: Counter[str]) -> str:
    total = {k: sum(f.funnel[s][k] for s in SOURCES) for k in ("referrals", "assessed", "enrolled")}
    by_source = ", ".join(f"{s} {f.funnel[s]['referrals']}" for s in SOURCES)
    invoiced = sum((p.get("total", Decimal(0)) for p in f.paid.values()), Decimal(0))
    pmpm = sum((p.get("pmpm", Decimal(0)) for p in f.paid.values()), Decimal(0))
    fees = sum((p.get("assessment_fee", Decimal(0)) for p in f.paid.values()), Decimal(0))
    member_months = sum(f.member_months.values())
    return "\n".join(
        [
            f"Hearth demo {f.run}: months {f.window[0]} to {f.window[-1]}",
            f"  referrals   {total['referrals']} ({by_source})",
            f"  assessed    {total['assessed']}; enrolled {total['enrolled']}",
            f"  care        {counts['visits']} visits, {counts['surveys']} surveys, "
            f"{counts['claim lines']} claim lines imported ({counts['reports sent again']} reports sent again)",
            f"  billing     {len(f.invoice_ids)} invoices, {member_months} member-months: PMPM {_money(pmpm)}, "
            f"assessment fees {_money(fees)}, total paid {_money(invoiced)}",
            f"  left open   {counts['assessed referrals the services left open']} assessed referral(s) "
            f"the services never closed; {counts['requests sent again after a 500']} request(s) sent again "
            "after a 500",
            f"  report      {path}",
            "  time spent  " + ", ".join(f"{name} {s:.0f}s" for name, s in seconds.most_common()),
        ]
    )
