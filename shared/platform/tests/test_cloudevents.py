from dataclasses import FrozenInstanceError
from datetime import date
from decimal import Decimal

import pytest

from hearth_platform.cloudevents import UndecodableEvent, decode, encode, new_envelope
from hearth_schemas import AssessmentFeeAccrued


def _accrual() -> AssessmentFeeAccrued:
    return AssessmentFeeAccrued(
        accrual_id="a1",
        member_id="M-17",
        provider_org_id="org-1",
        assessment_id="as-1",
        service_date=date(2026, 10, 3),
        amount=Decimal("325.00"),
        contract_id="c1",
    )


def test_encode_puts_attributes_in_ce_headers_and_keys_by_member():
    env = new_envelope(
        _accrual(),
        source="/hearth/billing",
        causation_id="cause-1",
        traceparent="00-" + "a" * 32 + "-" + "b" * 16 + "-01",
    )
    key, value, headers = encode(env)
    h = dict(headers)
    assert key == b"M-17"
    assert h["ce_specversion"] == b"1.0"
    assert h["ce_type"] == b"hearth.billing.AssessmentFeeAccrued.v1"
    assert h["ce_source"] == b"/hearth/billing"
    assert h["ce_subject"] == b"M-17"
    assert h["ce_dataschema"].endswith(b"/billing/AssessmentFeeAccrued/v1.json")
    assert h["ce_causationid"] == b"cause-1"
    assert h["traceparent"].startswith(b"00-aaaa")
    assert h["content-type"] == b"application/json"
    assert b'"amount":"325.00"' in value


def test_decode_round_trips_an_encoded_event():
    env = new_envelope(_accrual(), source="/hearth/billing")
    assert decode(*encode(env)) == env


@pytest.mark.parametrize(
    ("headers", "value", "reason"),
    [
        ([], b"{}", "ce_specversion"),
        ([("ce_specversion", b"1.0"), ("ce_id", b"1")], b"{}", "missing CloudEvents headers: ce_source"),
        (
            [
                ("ce_specversion", b"1.0"),
                ("ce_id", b"1"),
                ("ce_source", b"/x"),
                ("ce_type", b"t"),
                ("ce_time", b"yesterday"),
            ],
            b"{}",
            "ce_time",
        ),
        (
            [
                ("ce_specversion", b"1.0"),
                ("ce_id", b"1"),
                ("ce_source", b"/x"),
                ("ce_type", b"t"),
                ("ce_time", b"2026-10-01T00:00:00+00:00"),
            ],
            b"{not json",
            "not valid JSON",
        ),
        (
            [
                ("ce_specversion", b"1.0"),
                ("ce_id", b"1"),
                ("ce_source", b"/x"),
                ("ce_type", b"t"),
                ("ce_time", b"2026-10-01T00:00:00+00:00"),
            ],
            b"[1]",
            "not a JSON object",
        ),
    ],
)
def test_decode_names_what_is_wrong(headers, value, reason):
    with pytest.raises(UndecodableEvent, match=reason):
        decode(b"k", value, headers)


def test_decode_keeps_headers_it_does_not_know_and_the_envelope_stays_frozen():
    env = new_envelope(_accrual(), source="/hearth/billing", causation_id="cause-1")
    key, value, headers = encode(env)
    decoded = decode(key, value, [*headers, ("x-tenant", b"plan-7")])
    assert decoded.extra_headers == {"x-tenant": "plan-7"}
    assert (decoded.id, decoded.causation_id, decoded.time) == (env.id, "cause-1", env.time)
    assert decode(key, value, headers).extra_headers == {}
    with pytest.raises(FrozenInstanceError):
        decoded.subject = "M-18"  # type: ignore[misc]


def test_decode_refuses_a_header_that_is_not_utf8_and_a_content_type_other_than_json():
    key, value, headers = encode(new_envelope(_accrual(), source="/hearth/billing"))
    with pytest.raises(UndecodableEvent, match="not UTF-8"):
        decode(key, value, [*headers, ("x-blob", b"\xff\xfe")])
    other = [(k, b"text/plain" if k == "content-type" else v) for k, v in headers]
    with pytest.raises(UndecodableEvent, match="text/plain"):
        decode(key, value, other)


def test_an_event_without_a_subject_header_takes_its_subject_from_the_key():
    key, value, headers = encode(new_envelope(_accrual(), source="/hearth/billing"))
    assert decode(key, value, [(k, v) for k, v in headers if k != "ce_subject"]).subject == "M-17"
