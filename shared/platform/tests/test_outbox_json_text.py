from sqlalchemy import MetaData
from sqlalchemy.dialects import postgresql

from hearth_platform.tables import JsonText, PlatformTables

DIALECT = postgresql.dialect()  # type: ignore[no-untyped-call]


def test_outbox_payload_and_headers_are_stored_as_the_json_text_they_were_written_as() -> None:
    staged = '{"member_id":"M-1","amount":"400.00"}'
    assert JsonText().process_bind_param(staged, DIALECT) == staged


def test_an_object_written_to_the_outbox_is_stored_as_compact_json() -> None:
    headers = {"ce_id": "e-1", "ce_type": "hearth.billing.AssessmentFeeAccrued.v1"}
    assert JsonText().process_bind_param(headers, DIALECT) == (
        '{"ce_id":"e-1","ce_type":"hearth.billing.AssessmentFeeAccrued.v1"}'
    )


def test_outbox_json_text_reads_back_as_the_object_it_holds() -> None:
    text = '{"member_id": "M-1", "amount": "400.00", "lines": [1, 2]}'
    assert JsonText().process_result_value(text, DIALECT) == {
        "member_id": "M-1",
        "amount": "400.00",
        "lines": [1, 2],
    }


def test_the_inbox_key_compares_the_event_id_before_its_source() -> None:
    inbox = PlatformTables(MetaData(schema="svc")).inbox
    assert [c.name for c in inbox.primary_key.columns] == ["consumer_group", "event_id", "event_source"]
