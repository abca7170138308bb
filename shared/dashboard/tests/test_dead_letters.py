import pytest
from pydantic import ValidationError

from hearth_dashboard.dead_letters import ReplayRequest, describe, original_headers

HEADERS = [
    ("ce_type", b"hearth.referral.ReferralReceived.v1"),
    ("ce_id", b"e-1"),
    ("ce_source", b"/referral"),
    ("ce_subject", b"M-123"),
    ("traceparent", b"00-abc-def-01"),
    ("hearth_dlq_reason", b"schema: member_id missing"),
    ("hearth_dlq_kind", b"schema"),
    ("hearth_dlq_topic", b"referral.events"),
    ("hearth_dlq_partition", b"2"),
    ("hearth_dlq_offset", b"41"),
    ("hearth_dlq_group", b"hearth-eligibility"),
    ("hearth_dlq_time", b"2026-11-23T10:00:00+00:00"),
]


def test_a_dead_letter_shows_the_reason_and_origin_and_nothing_else() -> None:
    dead_letter = describe(1, 9, HEADERS)

    assert dead_letter.model_dump() == {
        "partition": 1,
        "offset": 9,
        "reason": "schema: member_id missing",
        "kind": "schema",
        "original_topic": "referral.events",
        "original_partition": 2,
        "original_offset": 41,
        "group": "hearth-eligibility",
        "dead_lettered_at": "2026-11-23T10:00:00+00:00",
        "ce_type": "hearth.referral.ReferralReceived.v1",
        "ce_id": "e-1",
        "ce_source": "/referral",
    }


def test_a_record_without_headers_is_described_with_blanks() -> None:
    dead_letter = describe(0, 0, [("hearth_dlq_offset", b"not-a-number")])

    assert dead_letter.original_offset is None and dead_letter.reason is None


def test_replay_sends_the_original_headers_without_the_dead_letter_ones() -> None:
    assert original_headers(HEADERS) == HEADERS[:5]


@pytest.mark.parametrize(
    "body", [{"partition": -1, "offset": 0}, {"partition": 0}, {"partition": 0, "offset": 1, "value": "x"}]
)
def test_a_replay_request_names_one_record_and_nothing_more(body: dict[str, object]) -> None:
    with pytest.raises(ValidationError):
        ReplayRequest.model_validate(body)
