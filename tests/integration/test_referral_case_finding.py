"""Case-finding from claims over HTTP and Kafka: a claims file is imported with COPY, members are
scored with the rules in case_finding.toml, suppressed members are skipped, and every algorithmic
referral answers why, from which claims and how old. Scores are counted by hand below."""

import uuid
from datetime import date, timedelta
from decimal import Decimal

from hearth_schemas import ClaimLineReceived

from .stack import Stack

HEADER = "claim_id,line_number,member_id,claim_type,service_from,service_to,diagnosis_codes,procedure_code,revenue_code,admission_type,discharge_status,paid_amount\n"


def sick_member_lines(tag: str, member: str) -> list[str]:
    """CHF (4) + 1 unplanned admission (2) + 1 ED visit (1) + repeated acute care (2) + oxygen (2) = 11."""
    return [
        f"{tag}-{member}-1,1,{member},inpatient,2026-08-10,2026-08-14,I509;E119,,,emergency,01,9000.00\n",
        f"{tag}-{member}-2,1,{member},outpatient,2026-09-15,2026-09-15,I509,99284,0450,,,450.00\n",
        f"{tag}-{member}-3,1,{member},dme,2026-10-01,2026-10-01,J449,E1390,,,,120.00\n",
    ]


async def test_a_claims_file_refers_the_members_the_rules_flag_and_skips_the_suppressed(stack: Stack, http):
    base = stack.url("referral")
    tag = uuid.uuid4().hex[:8]
    flagged, died, hospice, mild, no_condition, already, stale = (f"CF-{tag}-{n}" for n in "ABCDEFG")
    coverage = await http.post(
        f"{stack.url('eligibility')}/members/{already}/coverage",
        json={
            "plan_id": "plan-1",
            "line_of_business": "medi_cal",
            "market": "alameda",
            "start_date": "2026-01-01",
        },
    )
    assert coverage.status_code == 201, coverage.text
    open_referral = await http.post(
        f"{base}/referrals",
        json={"member_id": already, "source": "aco", "referrer_id": "aco-cf", "referral_date": "2026-11-02"},
    )
    assert open_referral.status_code == 201
    lines = [
        *sick_member_lines(tag, flagged),
        *sick_member_lines(tag, died),
        f"{tag}-{died}-9,1,{died},inpatient,2026-10-20,2026-10-25,I509,,,emergency,20,1.00\n",
        *sick_member_lines(tag, hospice),
        f"{tag}-{hospice}-9,1,{hospice},hospice,2026-10-20,2026-10-31,I509,,,,,1.00\n",
        f"{tag}-{mild}-1,1,{mild},professional,2026-10-02,2026-10-02,J441,99214,,,,80.00\n",
        *(
            f"{tag}-{no_condition}-{n},1,{no_condition},outpatient,2026-0{n}-01,2026-0{n}-01,R079,,0450,,,1.00\n"
            for n in (6, 7, 8)
        ),
        f"{tag}-{no_condition}-4,1,{no_condition},dme,2026-09-01,2026-09-01,R079,E1390,,,,1.00\n",
        *sick_member_lines(tag, already),
        f"{tag}-{stale}-1,1,{stale},inpatient,2025-08-10,2025-08-14,I509,,,emergency,01,1.00\n",
        f"{tag}-{stale}-2,1,{stale},inpatient,2025-09-10,2025-09-14,I509,,,urgent,01,1.00\n",
        f"{tag}-bad-1,1,{mild},professional,2026-02-30,2026-03-01,J441,,,,,1.00\n",
        f"{tag}-bad-2,1,{mild},xray,2026-02-01,2026-02-01,J441,,,,,1.00\n",
    ]
    body = (HEADER + "".join(lines)).encode()
    imported = await http.post(
        f"{base}/claims/import",
        params={"as_of": "2026-11-15"},
        content=body,
        headers={"content-type": "text/csv"},
    )
    assert imported.status_code == 200, imported.text
    result = imported.json()
    assert (result["lines"], result["accepted"], result["rejected"], result["referred"]) == (23, 21, 2, 1)
    assert result["errors"] == [
        {"line": 23, "reason": "service_from: a date YYYY-MM-DD"},
        {
            "line": 24,
            "reason": "claim_type: one of inpatient, outpatient, professional, dme, hospice, snf, home_health",
        },
    ]
    received = await stack.wait_for_event(
        "referral.events",
        lambda e: e.type == "hearth.referral.ReferralReceived.v1" and e.subject == flagged,
    )
    assert (received.data["source"], received.data["condition_group"]) == ("algorithm", "chf")
    assert received.data["rule_set_version"] == "2026.11"
    assert {(e["claim_id"], e["rule"]) for e in received.data["evidence"]} == {
        (f"{tag}-{flagged}-1", "condition:chf"),
        (f"{tag}-{flagged}-1", "unplanned_admission"),
        (f"{tag}-{flagged}-2", "condition:chf"),
        (f"{tag}-{flagged}-2", "ed_visit"),
        (f"{tag}-{flagged}-3", "dme_oxygen"),
        (f"{tag}-{flagged}-3", "condition:copd"),
    }
    assert not stack.events(
        "referral.events",
        lambda e: (
            e.type == "hearth.referral.ReferralReceived.v1"
            and e.subject in (died, hospice, mild, no_condition, stale)
            or (e.subject == already and e.data.get("source") == "algorithm")
        ),
    )

    why = await http.get(f"{base}/referrals/{received.data['referral_id']}/evidence")
    assert why.status_code == 200, why.text
    why = why.json()
    # CHF 4 + COPD 4 + oxygen 2 + repeated acute care 2 + unplanned admission 2 + ED visit 1 = 15.
    assert (why["score"], why["threshold"], why["referred_on"]) == (15, 6, "2026-11-15")
    assert [(p["rule"], p["events"], p["points"]) for p in why["explanation"]] == [
        ("chf", 2, 4),
        ("copd", 1, 4),
        ("oxygen", 1, 2),
        ("repeated_acute_care", 2, 2),
        ("unplanned_admission", 1, 2),
        ("ed_visit", 1, 1),
    ]
    ages = {(e["claim_id"], e["rule"]): e["age_days_at_referral"] for e in why["evidence"]}
    assert ages[(f"{tag}-{flagged}-3", "dme_oxygen")] == 45  # 2026-10-01 -> 2026-11-15
    assert ages[(f"{tag}-{flagged}-1", "unplanned_admission")] == 97  # 2026-08-10 -> 2026-11-15
    assert (why["newest_evidence_age_days"], why["oldest_evidence_age_days"]) == (45, 97)
    expected_today = (date.today() - date(2026, 10, 1)).days
    assert why["evidence"][0]["age_days_today"] == expected_today

    again = await http.post(
        f"{base}/claims/import",
        params={"as_of": "2026-11-15"},
        content=body,
        headers={"content-type": "text/csv"},
    )
    assert (again.json()["signal_lines"], again.json()["referred"]) == (0, 0)


async def test_a_claims_file_with_an_unknown_column_is_refused_naming_it(stack: Stack, http):
    refused = await http.post(
        f"{stack.url('referral')}/claims/import",
        content=b"claim_id,line_number,member_id,claim_type,service_from,service_to,colour\n",
        headers={"content-type": "text/csv"},
    )
    assert refused.status_code == 422
    assert refused.json()["detail"] == [{"field": "header.colour", "reason": "unknown column"}]


async def test_a_referral_not_made_by_case_finding_has_no_evidence(stack: Stack, http, member_id):
    created = await http.post(
        f"{stack.url('referral')}/referrals",
        json={"member_id": member_id, "source": "ehr", "referrer_id": "dr-cf", "referral_date": "2026-11-02"},
    )
    assert (
        await http.get(f"{stack.url('referral')}/referrals/{created.json()['referral_id']}/evidence")
    ).status_code == 404


async def test_the_claims_feed_on_kafka_refers_a_flagged_member(stack: Stack, http, member_id):
    today = date.today()

    def day(months_ago: int) -> date:
        return today - timedelta(days=30 * months_ago)

    # Only all three together reach the threshold (6), whichever batches they arrive in.
    lines = [
        ("professional", day(3), ["I110"], "99214", None, False),
        ("outpatient", day(2), ["R079"], None, None, True),
        ("dme", day(1), ["R079"], "E0250", None, False),
    ]
    for n, (claim_type, served, dx, hcpcs, admission, ed) in enumerate(lines, 1):
        await stack.publish(
            ClaimLineReceived(
                claim_id=f"K-{member_id}-{n}",
                line_number=1,
                member_id=member_id,
                claim_type=claim_type,
                service_from=served,
                service_to=served,
                diagnosis_codes=dx,
                procedure_code=hcpcs,
                admission_type=admission,
                ed_visit=ed,
                paid_amount=Decimal("10.00"),
            )
        )
    received = await stack.wait_for_event(
        "referral.events",
        lambda e: e.type == "hearth.referral.ReferralReceived.v1" and e.subject == member_id,
        timeout=30,
    )
    assert received.data["source"] == "algorithm"
    why = (
        await http.get(f"{stack.url('referral')}/referrals/{received.data['referral_id']}/evidence")
    ).json()
    # CHF 4 + ED visit 1 + hospital bed 2 = 7.
    assert why["score"] == 7
