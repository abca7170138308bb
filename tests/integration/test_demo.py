"""`make demo` at a small size against the test stack: the report a user opens shows the five
plots, and its funnel, enrolment and payment numbers are the ones the services answer."""

import re
from collections import Counter
from decimal import Decimal

import httpx

from hearth_devstack.demo import SERVICES, DemoConfig, run_demo
from hearth_devstack.demo_api import PROVIDER_SCOPES
from hearth_devstack.tokens import bearer_headers

from .stack import Stack

PLOTS = ("plot-funnel", "plot-days", "plot-tiers", "plot-pmpm", "plot-quality")


async def test_demo_report_has_five_plots_and_the_numbers_the_services_answer(stack: Stack, http, tmp_path):
    # The walking skeleton closes 2026-10: this run takes the six open months before it.
    config = DemoConfig(
        members=300,
        seed=11,
        urls={s: stack.url(s) for s in SERVICES},
        kafka_bootstrap=stack.infra.kafka_bootstrap,
        out_dir=tmp_path,
        end_month="2026-09",
        progress=False,
    )
    result = await run_demo(config)
    assert result.window == ["2026-04", "2026-05", "2026-06", "2026-07", "2026-08", "2026-09"]
    html = result.report.read_text()
    assert result.report.parent == tmp_path
    for plot in PLOTS:
        assert f'<svg xmlns="http://www.w3.org/2000/svg" id="{plot}"' in html

    # Funnel: each provider organization's conversion report, summed per source.
    orgs = sorted(result.findings.quality)
    assert len(orgs) == 4
    funnel: dict[str, Counter[str]] = {}
    for org in orgs:
        headers = bearer_headers(client="test-demo", org=org, org_type="provider", scopes=PROVIDER_SCOPES)
        async with httpx.AsyncClient(headers=headers, timeout=20) as client:
            report = await client.get(
                f"{stack.url('referral')}/reports/conversion",
                params={"referred_from": "2026-04-01", "referred_to": "2026-09-30"},
            )
        for row in report.json()["sources"]:
            funnel.setdefault(row["source"], Counter()).update(
                {k: row[k] for k in ("referrals", "assessed", "enrolled")}
            )
    for source, stages in funnel.items():
        assert result.findings.funnel[source] == dict(stages)
        row = f"<tr><td>{source}</td><td>{stages['referrals']}</td><td>{stages['assessed']}</td><td>{stages['enrolled']}</td>"
        assert row in html
    assert funnel["algorithm"]["referrals"] > 0
    assert sum(funnel[s]["referrals"] for s in ("ehr", "aco", "care_manager")) > 0
    assert sum(s["enrolled"] for s in funnel.values()) > 0

    # Enrolment by tier and paid amounts: billing's invoices of the run's organizations.
    total = Decimal(0)
    for month in result.window:
        tiers: Counter[str] = Counter()
        paid = Decimal(0)
        for summary in (await http.get(f"{stack.url('billing')}/invoices", params={"month": month})).json():
            if summary["provider_org_id"] not in orgs:
                continue
            invoice = (await http.get(f"{stack.url('billing')}/invoices/{summary['invoice_id']}")).json()
            paid += Decimal(invoice["total_amount"])
            tiers.update(line["tier"] for line in invoice["lines"] if line["kind"] == "pmpm")
        assert result.findings.tiers[month] == tiers
        assert result.findings.paid[month].get("total", Decimal(0)) == paid
        assert re.search(
            rf"<tr><td>{month}</td><td>{sum(tiers.values())}</td>.*?<td>\${paid:,.2f}</td>", html
        )
        total += paid
    assert total > 0
    assert f"total paid ${total:,.2f}" in result.summary
