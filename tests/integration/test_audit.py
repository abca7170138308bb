"""Every read or change of member data leaves an audit row in the owning service: who, which
client, what, when and why; the plan's administrators read it through the API."""

import asyncio

from .authz.access import client_of
from .stack import Stack


async def audit_rows(http, stack: Stack, service: str, member_id: str, expected: int) -> list[dict]:
    for _ in range(50):  # the trail is written in batches, within a fraction of a second
        rows = (await http.get(f"{stack.url(service)}/audit", params={"member_id": member_id})).json()
        if len(rows) >= expected:
            return rows
        await asyncio.sleep(0.1)
    raise AssertionError(f"{service} audited {len(rows)} requests for the member, expected {expected}")


async def test_a_read_and_a_change_of_member_data_are_audited_with_client_and_purpose(
    stack: Stack, http, member_id
):
    base = stack.url("eligibility")
    coverage = {
        "plan_id": "plan-1",
        "line_of_business": "medi_cal",
        "market": "alameda",
        "provider_org_id": "org-audit",
        "start_date": "2026-01-01",
    }
    changed = await http.post(f"{base}/members/{member_id}/coverage", json=coverage)
    assert changed.status_code in (200, 201), changed.text
    async with client_of("org-audit", client="ehr-audit") as ehr:
        ehr.headers["x-purpose-of-use"] = "TREAT"
        await ehr.get(f"{base}/members/{member_id}/coverage", params={"on": "2026-10-15"})
    rows = await audit_rows(http, stack, "eligibility", member_id, 2)
    change = next(r for r in rows if r["method"] == "POST")
    assert change["client"] == "plan-admin" and change["org_type"] == "plan"
    assert change["status"] == changed.status_code
    read = next(r for r in rows if r["client"] == "ehr-audit")
    assert read["org"] == "org-audit" and read["org_type"] == "provider"
    assert read["method"] == "GET" and read["route"] == "/members/{member_id}/coverage"
    assert read["path"] == f"/members/{member_id}/coverage"
    assert read["purpose"] == "TREAT"
    assert read["at"] and read["correlation_id"]


async def test_only_the_plan_reads_the_audit_log(stack: Stack):
    async with client_of("org-audit") as provider:
        response = await provider.get(f"{stack.url('referral')}/audit")
    assert response.status_code == 403
