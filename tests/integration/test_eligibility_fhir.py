"""The eligibility service's FHIR R4 edge over HTTP and the real Postgres: coverage checks
answered as CoverageEligibilityResponse, attribution lists (Group) recorded as coverage history,
and problems answered as OperationOutcome, never 5xx."""

import uuid

import asyncpg
from fhir.resources.R4B.coverageeligibilityresponse import CoverageEligibilityResponse
from fhir.resources.R4B.operationoutcome import OperationOutcome
from sqlalchemy.dialects.postgresql import asyncpg as asyncpg_dialect

from hearth_eligibility.fhir import load_fhir_profile
from hearth_eligibility.repository import HISTORIES
from hearth_platform.db import asyncpg_dsn

from .stack import Stack

PROFILE = load_fhir_profile()
FHIR = {"content-type": "application/fhir+json"}
HEADER = "member_id,plan_id,line_of_business,market,aco_id,provider_org_id,start_date,end_date\n"


async def roster(stack: Stack, http, body: str) -> None:
    loaded = await http.post(
        f"{stack.url('eligibility')}/coverage/import",
        content=HEADER + body,
        headers={"content-type": "text/csv"},
    )
    assert loaded.status_code == 200, loaded.text


def eligibility_request(member_id: str, on: str) -> dict:
    return {
        "resourceType": "CoverageEligibilityRequest",
        "id": "cer-1",
        "contained": [
            {
                "resourceType": "Patient",
                "id": "pat",
                "identifier": [{"system": PROFILE.member_identifier_system, "value": member_id}],
            }
        ],
        "status": "active",
        "purpose": ["validation"],
        "patient": {"reference": "#pat"},
        "servicedDate": on,
        "created": on,
        "insurer": {"reference": "Organization/plan-f"},
    }


async def test_a_coverage_eligibility_request_is_answered_in_force_or_not(stack: Stack, http, member_id):
    await roster(stack, http, f"{member_id},plan-f,medicare_advantage,kern,,org-f,2026-01-01,2026-06-30\n")
    url = f"{stack.url('eligibility')}/fhir/CoverageEligibilityRequest"

    covered = await http.post(url, json=eligibility_request(member_id, "2026-06-30"), headers=FHIR)
    assert covered.status_code == 200, covered.text
    assert covered.headers["content-type"].startswith("application/fhir+json")
    answer = CoverageEligibilityResponse.model_validate(covered.json())
    assert answer.outcome == "complete" and answer.insurance[0].inforce is True
    assert answer.contained[0].class_fhir[0].value == "plan-f"
    assert str(answer.insurance[0].benefitPeriod.end) == "2026-06-30"

    lapsed = await http.post(url, json=eligibility_request(member_id, "2026-07-01"), headers=FHIR)
    assert lapsed.status_code == 200
    assert lapsed.json()["disposition"] == "no coverage in force on 2026-07-01"
    assert "insurance" not in lapsed.json()


async def test_an_invalid_coverage_eligibility_request_gets_an_operation_outcome(stack: Stack, http):
    url = f"{stack.url('eligibility')}/fhir/CoverageEligibilityRequest"
    body = eligibility_request("M-x", "2026-13-01") | {"purpose": ["discovery"]}
    refused = await http.post(url, json=body, headers=FHIR)
    assert refused.status_code == 422
    outcome = OperationOutcome.model_validate(refused.json())
    assert sorted(i.expression[0] for i in outcome.issue) == [
        "CoverageEligibilityRequest.created",
        "CoverageEligibilityRequest.servicedDate",
    ]
    refused = await http.post(url, json=eligibility_request("M-x", "2026-10-01") | {"purpose": ["discovery"]})
    assert refused.status_code == 422
    assert refused.json()["issue"][0]["code"] == "not-supported"
    garbage = await http.post(url, content=b"\xff not json", headers=FHIR)
    assert garbage.status_code == 400 and garbage.json()["resourceType"] == "OperationOutcome"


def attribution_group(org: str, *members: tuple[str, str]) -> dict:
    return {
        "resourceType": "Group",
        "type": "person",
        "actual": True,
        "managingEntity": {"reference": f"Organization/{org}"},
        "member": [
            {
                "entity": {"identifier": {"system": PROFILE.member_identifier_system, "value": m}},
                "period": {"start": start},
            }
            for m, start in members
        ],
    }


async def test_an_attribution_list_moves_members_to_the_organization_from_the_period_start(
    stack: Stack, http
):
    base = stack.url("eligibility")
    run = uuid.uuid4().hex[:8]
    a, b = f"M-{run}-a", f"M-{run}-b"
    await roster(
        stack,
        http,
        f"{a},plan-g,medi_cal,alameda,,org-before,2026-01-01,\n{b},plan-g,medi_cal,alameda,,,2026-01-01,2026-12-31\n",
    )
    group = attribution_group("org-after", (a, "2026-04-01"), (b, "2026-01-01"))
    recorded = await http.post(f"{base}/fhir/Group", json=group, headers=FHIR)
    assert recorded.status_code == 200, recorded.text
    assert recorded.json() == {
        "provider_org_id": "org-after",
        "members": 2,
        "entries": 2,
        "spans_added": 3,
        "unchanged": 0,
    }
    march = (await http.get(f"{base}/members/{a}/coverage", params={"on": "2026-03-31"})).json()
    april = (await http.get(f"{base}/members/{a}/coverage", params={"on": "2026-04-01"})).json()
    assert (march["provider_org_id"], april["provider_org_id"]) == ("org-before", "org-after")
    history = (await http.get(f"{base}/members/{a}/coverage/history")).json()
    assert [h["in_effect"] for h in history] == [False, True, True]  # the original span is kept

    again = await http.post(f"{base}/fhir/Group", json=group, headers=FHIR)
    assert (again.json()["spans_added"], again.json()["unchanged"]) == (0, 2)


async def test_an_attribution_list_naming_an_uncovered_member_records_nothing(stack: Stack, http, member_id):
    base = stack.url("eligibility")
    await roster(stack, http, f"{member_id},plan-g,medi_cal,alameda,,org-1,2026-01-01,\n")
    group = attribution_group("org-2", (member_id, "2026-02-01"), (f"{member_id}-none", "2026-02-01"))
    refused = await http.post(f"{base}/fhir/Group", json=group, headers=FHIR)
    assert refused.status_code == 422
    assert [i["expression"] for i in refused.json()["issue"]] == [["Group.member[1]"]]
    still = (await http.get(f"{base}/members/{member_id}/coverage", params={"on": "2026-03-01"})).json()
    assert still["provider_org_id"] == "org-1"


async def test_the_coverage_lookup_is_one_index_scan_on_the_member(stack: Stack, http):
    run = uuid.uuid4().hex[:8]
    await roster(
        stack, http, "".join(f"M-{run}-{i},plan-i,commercial,kern,,,2026-01-01,\n" for i in range(5000))
    )
    sql = str(HISTORIES.compile(dialect=asyncpg_dialect.dialect()))
    conn = await asyncpg.connect(asyncpg_dsn(stack.infra.database_url))
    try:
        await conn.execute("ANALYZE eligibility.coverage_spans")
        plan = await conn.fetchval(f"EXPLAIN (FORMAT JSON) {sql}", [f"M-{run}-42"])
    finally:
        await conn.close()
    assert '"Index Name": "ix_eligibility_coverage_spans_member_id"' in plan
    assert "Seq Scan" not in plan
