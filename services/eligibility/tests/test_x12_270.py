"""270 inquiries as outside tools write them, answered with 271s that pyx12 accepts."""

from datetime import UTC, date, datetime
from pathlib import Path

import pytest

from hearth_eligibility.coverage import CoverageHistory, CoverageSpan
from hearth_eligibility.x12.eligibility_270 import answer, read_inquiry
from hearth_eligibility.x12.validation import X12Rejected, read_envelope_checked, read_validated

AT = datetime(2026, 11, 20, 10, 15, tzinfo=UTC)

# Inquiries as outside tools write them (raw files): a clearinghouse's 005010X279A1 on one line
# without line breaks, asking about two subscribers (DTP*291 for the first, none for the second),
# and a practice system's 004010X092A1 with CRLF after each segment, asking about 2027-01-15.
SAMPLES = Path(__file__).parent / "x12"
INQUIRY_5010 = (SAMPLES / "inquiry_005010X279A1.x12").read_text()
INQUIRY_4010 = (SAMPLES / "inquiry_004010X092A1.x12").read_text()


def covered() -> dict[str, CoverageHistory]:
    span = CoverageSpan(
        "s-1", "M-COVERED", "medi-cal-alameda", "medi_cal", "alameda", None, "org-1",
        date(2026, 1, 1), date(2026, 12, 31), datetime(2026, 1, 2, tzinfo=UTC),
    )  # fmt: skip
    return {
        "M-COVERED": CoverageHistory.of("M-COVERED", [span]),
        "M-UNKNOWN": CoverageHistory.of("M-UNKNOWN", []),
    }


def lines(x12: str) -> list[str]:
    return x12.splitlines()


def test_a_5010_inquiry_reads_each_subscriber_with_the_date_asked():
    inquiry = read_inquiry(INQUIRY_5010)
    assert inquiry.version == "005010X279A1"
    assert [(s.member_id, s.on) for s in inquiry.subscribers] == [
        ("M-COVERED", date(2026, 11, 15)),
        ("M-UNKNOWN", None),
    ]
    assert (inquiry.sender.id, inquiry.reference, inquiry.asked_at) == (
        "CLEARHOUSE01",
        "10001234",
        date(2026, 11, 20),
    )


def test_the_5010_response_says_active_with_the_plan_and_not_found_for_a_stranger():
    response = answer(read_inquiry(INQUIRY_5010), covered(), at=AT, control_number=555)
    segments = read_envelope_checked(response)  # pyx12 reads envelope and counts without error
    body = lines(response)
    assert body[2] == "ST*271*0555*005010X279A1~"
    assert "TRN*2*93175-012547*9877281234~" in body
    assert "EB*1*IND*30*MC*medi-cal-alameda~" in body
    assert body[body.index("EB*1*IND*30*MC*medi-cal-alameda~") + 1 : body.index("HL*4*2*22*0~")] == [
        "DTP*348*D8*20260101~",
        "DTP*349*D8*20261231~",
    ]
    stranger = body[body.index("HL*4*2*22*0~") :]
    assert stranger[2:5] == ["NM1*IL*1*ROE*RICHARD****MI*M-UNKNOWN~", "AAA*Y**75*C~", "DTP*291*D8*20261120~"]
    # Sender and receiver swap; SE counts ST through SE.
    assert segments[0].element(6).strip() == "HEARTH"
    assert body[-3] == f"SE*{len(body) - 4}*0555~"


def test_a_4010_response_passes_pyx12s_271_map_and_says_inactive_after_coverage_ends():
    response = answer(read_inquiry(INQUIRY_4010), covered(), at=AT, control_number=556)
    segments = read_validated(response)  # full 004010X092A1 271 map validation
    ids = [(s.id, s.loop) for s in segments]
    assert ("EB", "2110C") in ids
    assert "EB*6*IND*30~" in lines(response)
    assert "DTP*307*D8*20270115~" in lines(response)


def test_a_malformed_270_names_the_segment_and_loads_nothing():
    broken = INQUIRY_5010.replace("SE*16*0001", "SE*15*0001")
    with pytest.raises(X12Rejected) as refused:
        read_inquiry(broken)
    assert refused.value.detail[0]["segment"] == "SE"
    assert "SE count" in refused.value.detail[0]["reason"]


def test_a_subscriber_without_a_member_id_is_refused_at_its_nm1():
    without_id = INQUIRY_5010.replace("****MI*M-UNKNOWN", "")
    with pytest.raises(X12Rejected) as refused:
        read_inquiry(without_id)
    [error] = refused.value.detail
    # ST is segment 1; the second subscriber's NM1 is segment 14.
    assert (error["segment"], error["field"], error["position"]) == ("NM1", "NM109", 14)


def test_another_transaction_is_refused_at_gs08():
    with pytest.raises(X12Rejected) as refused:
        read_inquiry(INQUIRY_5010.replace("005010X279A1", "005010X220A1"))
    assert refused.value.detail[0]["field"] == "GS08"
