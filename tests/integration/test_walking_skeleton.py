"""One member end to end through all four services, as the plan would see it."""

import functools
import json
import uuid
from decimal import Decimal
from pathlib import Path

import jsonschema

from hearth_schemas import EVENTS_BY_TYPE

from .stack import Stack

SCHEMAS = Path(__file__).resolve().parents[2] / "shared" / "schemas" / "json"
EVENT_TOPICS = ("referral.events", "eligibility.events", "billing.events", "quality.events")
CE_HEADERS = (
    "ce_specversion",
    "ce_id",
    "ce_source",
    "ce_type",
    "ce_time",
    "ce_subject",
    "ce_dataschema",
    "ce_correlationid",
    "traceparent",
    "content-type",
)


@functools.cache
def _validator(event_type: str) -> jsonschema.protocols.Validator:
    """The checked-in JSON Schema of an event type, compiled once."""
    schema = json.loads((SCHEMAS / EVENTS_BY_TYPE[event_type].schema_filename()).read_text())
    cls = jsonschema.validators.validator_for(schema)
    cls.check_schema(schema)
    return cls(schema)


async def refer_and_assess(stack: Stack, http, member_id: str, org: str, decision: str) -> str:
    coverage = await http.post(
        f"{stack.url('eligibility')}/members/{member_id}/coverage",
        json={
            "plan_id": "plan-1",
            "line_of_business": "medi_cal",
            "market": "alameda",
            "provider_org_id": org,
            "start_date": "2026-01-01",
        },
    )
    assert coverage.status_code == 201, coverage.text
    referral = await http.post(
        f"{stack.url('referral')}/referrals",
        json={
            "member_id": member_id,
            "source": "ehr",
            "referrer_id": "dr-1",
            "referral_date": "2026-10-01",
            "provider_org_id": org,
            "goals_of_care_discussed": False,
        },
    )
    assert referral.status_code == 201, referral.text
    body = referral.json()
    assert body["needs_goals_of_care"] is True
    referral_id = body["referral_id"]
    covered = await stack.wait_for_event(
        "eligibility.events",
        lambda e: (
            e.type == "hearth.eligibility.EligibilityDetermined.v1"
            and e.data.get("referral_id") == referral_id
        ),
    )
    assert covered.data["stage"] == "coverage" and covered.data["eligible"] is True
    assessment = await http.post(
        f"{stack.url('referral')}/referrals/{referral_id}/assessment",
        json={
            "provider_org_id": org,
            "assessed_on": "2026-10-05",
            "mode": "in_person",
            "decision": decision,
            "age_years": 81,
            "primary_condition": "chf",
            "nyha_class": 4,
            "ejection_fraction": 22,
            "karnofsky": 50,
            "surrogate_identified": True,
            "surrogate_relationship": "child",
        },
    )
    assert assessment.status_code == 201, assessment.text
    return referral_id


async def test_one_member_from_referral_to_invoice_and_quality_score(stack: Stack, http):
    org = f"org-{uuid.uuid4().hex[:8]}"
    enrolling, declining = f"M-{uuid.uuid4().hex[:10]}", f"M-{uuid.uuid4().hex[:10]}"
    enrolling_referral = await refer_and_assess(stack, http, enrolling, org, "enrol")
    await refer_and_assess(stack, http, declining, org, "decline")

    # billing pays the assessment fee for both members, enrolled or not
    for member in (enrolling, declining):
        fee = await stack.wait_for_event(
            "billing.events",
            lambda e, m=member: e.type == "hearth.billing.AssessmentFeeAccrued.v1" and e.subject == m,
        )
        assert Decimal(fee.data["amount"]) == Decimal("325.00")
    enrolled = await stack.wait_for_event(
        "eligibility.events",
        lambda e: e.type == "hearth.eligibility.MemberEnrolled.v1" and e.subject == enrolling,
    )
    assert enrolled.data["provider_org_id"] == org and enrolled.data["tier"] == "moderate"
    closed = await stack.wait_for_event(
        "referral.events", lambda e: e.type == "hearth.referral.ReferralClosed.v1" and e.subject == enrolling
    )
    assert closed.data["outcome"] == "enrolled"
    assert (await http.get(f"{stack.url('referral')}/referrals/{enrolling_referral}")).json()[
        "status"
    ] == "enrolled"
    assert (
        stack.events(
            "eligibility.events",
            lambda e: e.type == "hearth.eligibility.MemberEnrolled.v1" and e.subject == declining,
        )
        == []
    )

    # month close: one invoice for the organization, the PMPM and both fees
    close = await http.post(f"{stack.url('billing')}/months/2026-10/close")
    assert close.status_code in (200, 201), close.text
    issued = await stack.wait_for_event(
        "billing.events",
        lambda e: e.type == "hearth.billing.InvoiceIssued.v1" and e.data["provider_org_id"] == org,
    )
    invoice = (await http.get(f"{stack.url('billing')}/invoices/{issued.data['invoice_id']}")).json()
    lines = sorted((line["member_id"], line["kind"], Decimal(line["amount"])) for line in invoice["lines"])
    assert lines == sorted(
        [
            (enrolling, "pmpm", Decimal("400.00")),
            (enrolling, "assessment_fee", Decimal("325.00")),
            (declining, "assessment_fee", Decimal("325.00")),
        ]
    )
    assert Decimal(issued.data["total_amount"]) == Decimal("1050.00")
    again = await http.post(f"{stack.url('billing')}/months/2026-10/close")
    assert again.status_code == 200
    assert issued.data["invoice_id"] in json.dumps(again.json())

    # quality scores the month: the enrolled member had a surrogate identified
    scored = await stack.wait_for_event(
        "quality.events",
        lambda e: (
            e.type == "hearth.quality.PerformanceScored.v1"
            and e.data["provider_org_id"] == org
            and e.data["measure_id"] == "surrogate-identified"
        ),
    )
    assert (scored.data["numerator"], scored.data["denominator"]) == (1, 1)
    assert Decimal(scored.data["rate"]) == 1


async def test_events_on_every_topic_carry_cloudevents_headers_and_match_the_checked_in_schemas(stack: Stack):
    for topic in EVENT_TOPICS:
        records = [
            r
            for r in stack.records
            if r.topic == topic and r.headers.get("ce_source", "").startswith("/hearth/")
        ]
        assert records, f"no events on {topic}: run the walking skeleton first"
        for record in records:
            for header in CE_HEADERS:
                assert header in record.headers, f"{topic}: {header} missing"
            assert record.headers["ce_specversion"] == "1.0"
            assert record.key.decode() == record.headers["ce_subject"]
            validator = _validator(record.headers["ce_type"])
            assert record.headers["ce_dataschema"] == validator.schema["$id"]
            validator.validate(json.loads(record.value))
