"""The ReferralReceived text the intake writes to the outbox without a pydantic round trip: it
must still be exactly what the contract reads, and carry the CloudEvents headers consumers use."""

from datetime import UTC, date, datetime

import orjson

from hearth_platform.db import TraceContext
from hearth_referral.intake import ReceivedEvents
from hearth_schemas import ClaimEvidence, ReferralReceived

AT = datetime(2026, 11, 24, 3, 0, 0, 250000, tzinfo=UTC)


def _texts(trace: TraceContext, **fields: object) -> tuple[dict[str, object], dict[str, str]]:
    line: dict[str, object] = {
        "referral_id": "5d1c6d2e-8f3a-4b7e-9a10-2f4c1e0b7a11",
        "event_id": "0b6f2a44-1c9d-4e3b-8a55-7d2e9f0c3b21",
        "member_id": "M-100",
        "source": "aco",
        "referrer_id": "aco-1",
        "referral_date": date(2026, 10, 1),
        "provider_org_id": None,
        "goals_of_care_discussed": None,
    }
    payload, headers = ReceivedEvents(AT).texts(**{**line, **fields}, trace=trace)  # type: ignore[arg-type]
    return orjson.loads(payload), orjson.loads(headers)


def test_an_imported_line_event_reads_back_as_the_contract_with_absent_fields_left_out():
    payload, _ = _texts(TraceContext(), goals_of_care_discussed=False)
    assert payload == {
        "referral_id": "5d1c6d2e-8f3a-4b7e-9a10-2f4c1e0b7a11",
        "member_id": "M-100",
        "source": "aco",
        "referrer_id": "aco-1",
        "referral_date": "2026-10-01",
        "received_at": "2026-11-24T03:00:00.250000Z",
        "goals_of_care_discussed": False,
    }
    event = ReferralReceived.model_validate(payload)
    assert (event.provider_org_id, event.goals_of_care_discussed) == (None, False)
    assert event.received_at == AT


def test_a_case_finding_candidate_event_carries_its_evidence_in_the_payload():
    evidence = ClaimEvidence(claim_id="C-1", code="I50.9", service_date=date(2026, 9, 1), rule="chf_dx")
    extra = {
        "condition_group": "chf",
        "evidence": [evidence.model_dump(mode="json", exclude_none=True)],
        "rule_set_version": "2026.1",
    }
    payload, _ = _texts(TraceContext(), source="algorithm", provider_org_id="org-a", extra=extra)
    event = ReferralReceived.model_validate(payload)
    assert (event.source, event.provider_org_id, event.condition_group) == ("algorithm", "org-a", "chf")
    assert event.evidence == [evidence] and event.rule_set_version == "2026.1"


def test_the_headers_name_the_event_the_member_and_the_callers_trace():
    trace = TraceContext(
        correlation_id="corr-1",
        causation_id="cause-1",
        traceparent="00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",
    )
    _, headers = _texts(trace)
    assert headers["ce_id"] == "0b6f2a44-1c9d-4e3b-8a55-7d2e9f0c3b21"
    assert headers["ce_subject"] == "M-100"
    assert headers["ce_type"] == ReferralReceived.event_type()
    assert headers["ce_source"] == "/hearth/referral"
    assert (headers["ce_correlationid"], headers["ce_causationid"]) == ("corr-1", "cause-1")
    assert headers["traceparent"] == "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"


def test_without_a_callers_trace_the_event_starts_its_own_correlated_by_itself():
    _, headers = _texts(TraceContext())
    # md5 of the event id as the trace, the first 16 hex digits of md5 of the referral id as the
    # span: the same trace whichever process stages the event again.
    assert headers["traceparent"] == "00-f4f48e04dd9b7da21907e41e66e3b3fe-4e51f06081b87949-01"
    assert headers["ce_correlationid"] == "0b6f2a44-1c9d-4e3b-8a55-7d2e9f0c3b21"
    assert "ce_causationid" not in headers
