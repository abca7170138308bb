"""`make demo`: the walking skeleton for a handful of synthetic members, through the public APIs
of the running stack, then a plain-words account of what each service did.

Rerunnable: each run uses new member ids and the first billing month that is still open."""

import argparse
import os
import time
import uuid
from collections import Counter
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any

import httpx

from hearth_devstack.tokens import bearer_headers

SERVICES = {"referral": 8001, "eligibility": 8002, "billing": 8003, "quality": 8004}


@dataclass(frozen=True)
class Persona:
    """A synthetic member: structured clinical findings only, no names."""

    label: str
    covered: bool
    decision: str
    findings: dict[str, Any]
    goals_of_care_discussed: bool


PERSONAS = [
    Persona(
        "heart failure, NYHA IV, EF 20%",
        True,
        "enrol",
        {
            "primary_condition": "chf",
            "nyha_class": 4,
            "ejection_fraction": 20,
            "karnofsky": 50,
            "surrogate_identified": True,
            "surrogate_relationship": "spouse",
        },
        True,
    ),
    Persona(
        "COPD on 4 L/min oxygen",
        True,
        "enrol",
        {
            "primary_condition": "copd",
            "oxygen_lpm": 4.0,
            "fev1_percent": 28,
            "karnofsky": 40,
            "esas_total": 45,
            "surrogate_identified": False,
        },
        False,
    ),
    Persona(
        "stage IV cancer, KPS 60",
        True,
        "enrol",
        {
            "primary_condition": "cancer",
            "cancer_stage": 4,
            "karnofsky": 60,
            "failed_therapy_lines": 2,
            "surrogate_identified": True,
            "surrogate_relationship": "child",
        },
        True,
    ),
    Persona(
        "liver disease, MELD 22",
        True,
        "decline",
        {"primary_condition": "liver", "meld": 22, "albumin": 2.6, "inr": 1.6, "karnofsky": 60},
        False,
    ),
    Persona(
        "heart failure, NYHA II (does not meet criteria)",
        True,
        "enrol",
        {"primary_condition": "chf", "nyha_class": 2, "ejection_fraction": 45, "karnofsky": 80},
        True,
    ),
    Persona("no coverage on the referral date", False, "enrol", {}, True),
]
ORGS = ("org-sunrise-hospice", "org-valley-home-health")


def base_urls() -> dict[str, str]:
    host = os.environ.get("HEARTH_DEMO_HOST", "127.0.0.1")
    return {name: f"http://{host}:{port}" for name, port in SERVICES.items()}


def open_month(client: httpx.Client, billing: str, start: date) -> str:
    year, month = start.year, start.month
    for _ in range(36):
        candidate = f"{year:04d}-{month:02d}"
        if client.get(f"{billing}/months/{candidate}").json().get("status") != "closed":
            return candidate
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)
    raise SystemExit("no open billing month in the next three years")


def wait_until(check: Any, what: str, timeout: float = 60) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = check()
        if result:
            return result
        time.sleep(0.3)
    raise SystemExit(f"demo: timed out waiting for {what}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="hearth demo", description=__doc__)
    parser.add_argument(
        "--month", help="billing month to use (YYYY-MM); default: the first open one from 2026-10"
    )
    args = parser.parse_args(argv)
    url = base_urls()
    run = uuid.uuid4().hex[:6]
    with httpx.Client(timeout=20, headers=bearer_headers(client="hearth-demo")) as client:
        for name, base in url.items():
            if client.get(f"{base}/health").status_code != 200:
                raise SystemExit(f"demo: {name} at {base} is not healthy; run `make up` first")
        month = args.month or open_month(client, url["billing"], date(2026, 10, 1))
        first_day = date.fromisoformat(f"{month}-01")
        print(f"Hearth demo run {run}: {len(PERSONAS)} synthetic members, billing month {month}\n")

        members: list[tuple[Persona, str, str, str]] = []
        for i, persona in enumerate(PERSONAS):
            member_id, org = f"DEMO-{run}-{i + 1}", ORGS[i % 2]
            if persona.covered:
                client.post(
                    f"{url['eligibility']}/members/{member_id}/coverage",
                    json={
                        "plan_id": "plan-medi-cal",
                        "line_of_business": "medi_cal",
                        "market": "alameda",
                        "provider_org_id": org,
                        "start_date": "2026-01-01",
                    },
                ).raise_for_status()
            response = client.post(
                f"{url['referral']}/referrals",
                json={
                    "member_id": member_id,
                    "source": ("ehr", "aco", "care_manager")[i % 3],
                    "referrer_id": f"ref-{i % 3}",
                    "referral_date": first_day.isoformat(),
                    "provider_org_id": org,
                    "goals_of_care_discussed": persona.goals_of_care_discussed,
                },
                headers={"Idempotency-Key": f"{run}-{i}"},
            )
            response.raise_for_status()
            members.append((persona, member_id, org, response.json()["referral_id"]))
        print(
            f"referral     received {len(members)} referrals "
            f"({sum(not p.goals_of_care_discussed for p, *_ in members)} without a goals-of-care conversation)"
        )

        def coverage_decided(member_id: str) -> list[Any]:
            return [
                d
                for d in client.get(f"{url['eligibility']}/members/{member_id}/determinations").json()
                if d.get("stage") == "coverage"
            ]

        for persona, member_id, org, referral_id in members:
            decided = wait_until(lambda m=member_id: coverage_decided(m), "coverage decisions")
            if not decided[-1]["eligible"]:
                continue
            client.post(
                f"{url['referral']}/referrals/{referral_id}/assessment",
                json={
                    "provider_org_id": org,
                    "assessed_on": first_day.replace(day=5).isoformat(),
                    "mode": "in_person",
                    "decision": persona.decision,
                    "age_years": 74,
                    **persona.findings,
                },
            ).raise_for_status()

        def settled() -> bool:
            statuses = [client.get(f"{url['referral']}/referrals/{r}").json()["status"] for *_, r in members]
            return all(s in {"enrolled", "declined", "ineligible"} for s in statuses)

        wait_until(settled, "referrals to reach an outcome")
        outcomes = Counter(
            client.get(f"{url['referral']}/referrals/{r}").json()["status"] for *_, r in members
        )
        print("referral     outcomes: " + ", ".join(f"{n} {s}" for s, n in sorted(outcomes.items())))
        for persona, member_id, _, _ in members:
            enrolment = client.get(f"{url['eligibility']}/members/{member_id}/enrolment")
            tier = enrolment.json().get("tier") if enrolment.status_code == 200 else None
            print(
                f"eligibility  {member_id}: {persona.label} -> "
                + (f"enrolled, tier {tier}" if tier else "not enrolled")
            )

        assessed = [m for p, m, *_ in members if p.covered]
        wait_until(
            lambda: all(
                client.get(f"{url['billing']}/members/{m}/ledger").json()["assessment_fees"] for m in assessed
            ),
            "assessment fees",
        )
        close = client.post(f"{url['billing']}/months/{month}/close")
        close.raise_for_status()
        closed = close.json()
        print(
            f"billing      closed {month}: {len(closed['invoice_ids'])} invoice(s), "
            f"{closed.get('member_months')} member-month(s), total ${Decimal(closed['total_amount']):,.2f}"
        )
        for invoice_id in closed["invoice_ids"]:
            invoice = client.get(f"{url['billing']}/invoices/{invoice_id}").json()
            kinds = Counter(line["kind"] for line in invoice["lines"])
            print(
                f"billing        {invoice['provider_org_id']}: ${Decimal(invoice['total_amount']):,.2f} "
                f"({kinds['pmpm']} PMPM line(s), {kinds['assessment_fee']} assessment fee(s))"
            )

        def scored() -> list[Any]:
            results = client.get(f"{url['quality']}/measures/results", params={"period": month}).json()[
                "results"
            ]
            return [r for r in results if r["provider_org_id"] in ORGS]

        by_org: dict[str, list[Any]] = {}
        for result in wait_until(scored, "quality scores"):
            by_org.setdefault(result["provider_org_id"], []).append(result)
        for org, results in sorted(by_org.items()):
            reported = [r for r in results if r["reported"]]
            shown = ", ".join(
                f"{r['measure_id']} {r['numerator']}/{r['denominator']} ({Decimal(r['rate']):.3f})"
                for r in reported
            )
            print(
                f"quality      {org}: {shown or 'nothing reported yet'}; "
                f"{len(results) - len(reported)} measure(s) below their minimum count"
            )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
