"""Billing's access matrix: every endpoint, called by clients of two provider organizations (and
an ACO). A provider sees only its own invoices, their outputs, its lines of a member's ledger and
its DME requests; another organization's single resource is a 404 and lists leave it out; closing
a month and the plan-wide month summary are the plan's alone (403); billing does not know ACO
attribution, so an ACO gets 403 everywhere.

The cases run against a billing deployment of their own (its own database, no broker), fed through
the real handlers and closed through the real route, so closing a month here never touches the
months the shared stack's tests close.
"""

from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any

import httpx
import pytest

from hearth_billing import handlers
from hearth_billing.app import definition
from hearth_devstack.services import wait_healthy_async
from hearth_platform.db import Database
from hearth_platform.settings import Settings
from hearth_schemas import MemberEnrolled

from ..stack import Stack, free_port
from ..test_billing_rules import Billing
from .access import ACO_A, ORG_A, Case, Request, client_of, without
from .matrix import check

MONTH = "2026-10"
MEMBER = "M-access-billing-a"
ENROLLMENT = f"E-{MEMBER}"
#: What the deployment holds for organization A, filled in by the `deployment` fixture.
MADE: dict[str, str] = {}


@dataclass
class Deployment:
    """A billing service of its own; `url` answers for the matrix's `check`."""

    base: str

    def url(self, service: str) -> str:
        return self.base


@pytest.fixture(scope="module")
async def deployment(stack: Stack) -> AsyncIterator[Deployment]:
    database_url = await stack.isolated_database()
    port = free_port()
    # No broker: the events of the shared stack's tests must not reach this ledger.
    proc = stack.start("billing", port=port, database_url=database_url, HEARTH_KAFKA_BOOTSTRAP="127.0.0.1:9")
    base = f"http://127.0.0.1:{port}"
    await wait_healthy_async([base + "/health/live"], 90, processes={base + "/health/live": proc})
    db = Database(Settings(database_url=database_url), "billing", definition.platform)
    try:
        await Billing(db).deliver(
            MemberEnrolled(
                enrollment_id=ENROLLMENT,
                member_id=MEMBER,
                provider_org_id=ORG_A,
                tier="moderate",
                effective_date=date(2026, 10, 1),
                consent_on=date(2026, 10, 1),
            )
        )
        dme = await handlers.request_dme(db, MEMBER, "E0250", date(2026, 10, 5), Decimal("250.00"))
        async with client_of("plan", org_type="plan", client="plan-admin") as admin:
            closed = await admin.post(f"{base}/months/{MONTH}/close")
        assert closed.status_code == 201, closed.text
        MADE.update(invoice_id=closed.json()["invoice_ids"][0], dme_request_id=dme["request_id"])
        yield Deployment(base)
    finally:
        await db.dispose()
        stack.kill(proc)


def get(path: str, **params: str) -> Any:
    async def setup(admin: httpx.AsyncClient, base: str) -> Request:
        return Request("GET", base + path.format(**MADE, member_id=MEMBER, month=MONTH), params=params)

    return setup


async def close_setup(admin: httpx.AsyncClient, base: str) -> Request:
    return Request("POST", f"{base}/months/2026-11/close")


async def dme_setup(admin: httpx.AsyncClient, base: str) -> Request:
    body = {"member_id": MEMBER, "hcpcs_code": "E1390", "service_date": "2026-10-12", "amount": "90.00"}
    return Request("POST", f"{base}/dme-requests", json=body)


CASES: list[Case] = [
    Case("POST", "/months/{month}/close", close_setup, a_gets=(403,)),
    Case("GET", "/months/{month}", get("/months/{month}"), a_gets=(403,)),
    Case("GET", "/invoices", get("/invoices", month=MONTH), b_gets=without("org-access-a")),
    Case("GET", "/invoices/{invoice_id}", get("/invoices/{invoice_id}")),
    Case("GET", "/invoices/{invoice_id}/remittance.x12", get("/invoices/{invoice_id}/remittance.x12")),
    Case("GET", "/invoices/{invoice_id}/measure-report", get("/invoices/{invoice_id}/measure-report")),
    Case(
        "GET", "/members/{member_id}/ledger", get("/members/{member_id}/ledger"), b_gets=without(ENROLLMENT)
    ),
    Case("POST", "/dme-requests", dme_setup),
    Case("GET", "/dme-requests/{request_id}", get("/dme-requests/{dme_request_id}")),
    Case(
        "GET",
        "/members/{member_id}/dme-requests",
        get("/members/{member_id}/dme-requests"),
        b_gets=without("org-access-a"),
    ),
    Case(
        "GET",
        "/reports/economic-evaluation",
        get("/reports/economic-evaluation", **{"from": MONTH, "to": MONTH}),
        b_gets=without("org-access-a"),
    ),
]


@pytest.mark.parametrize("case", CASES, ids=lambda case: f"{case.method} {case.path}")
async def test_a_provider_reaches_its_own_billing_data_and_not_another_organizations(
    deployment: Deployment, http: httpx.AsyncClient, case: Case
):
    await check(deployment, "billing", case, http)  # type: ignore[arg-type]


async def test_the_plan_sees_every_organization_and_an_aco_sees_nothing(
    deployment: Deployment, http: httpx.AsyncClient
):
    base, invoice = deployment.base, MADE["invoice_id"]
    ledger = await http.get(f"{base}/members/{MEMBER}/ledger")
    assert [s["provider_org_id"] for s in ledger.json()["enrolment_spans"]] == [ORG_A]
    listed = await http.get(f"{base}/invoices", params={"month": MONTH})
    assert [i["invoice_id"] for i in listed.json()] == [invoice]
    month = await http.get(f"{base}/months/{MONTH}")
    assert (month.status_code, month.json()["invoice_ids"]) == (200, [invoice])
    report = await http.get(f"{base}/reports/economic-evaluation", params={"from": MONTH, "to": MONTH})
    assert [r["provider_org_id"] for r in report.json()["rows"]] == [ORG_A, None]  # None: the program
    async with client_of(ACO_A, org_type="aco") as aco:
        for path in (
            f"/invoices/{invoice}",
            f"/invoices?month={MONTH}",
            f"/members/{MEMBER}/ledger",
            f"/members/{MEMBER}/dme-requests",
            f"/dme-requests/{MADE['dme_request_id']}",
            f"/reports/economic-evaluation?from={MONTH}&to={MONTH}",
        ):
            response = await aco.get(base + path)
            assert response.status_code == 403, (path, response.status_code)
        closing = await aco.post(f"{base}/months/2026-11/close")
        assert closing.status_code == 403
