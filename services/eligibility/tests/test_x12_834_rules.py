"""The one-pass 834 rules (compiled from pyx12's map) against pyx12's full map walk: the same
verdict on good and malformed files, naming the same segment at the same position and line."""

import re
from datetime import UTC, date, datetime

import pytest

from hearth_eligibility.x12.enrolment_file import (
    ADD,
    CHANGE,
    TERMINATION,
    MemberMaintenance,
    enrolment_file,
)
from hearth_eligibility.x12.guide import OutsideSubset, load_guide
from hearth_eligibility.x12.loading import read_834
from hearth_eligibility.x12.one_pass import read_checked
from hearth_eligibility.x12.validation import X12Rejected, read_validated

AT = datetime(2026, 11, 23, 22, 0, tzinfo=UTC)
GUIDE = load_guide()

GOOD = enrolment_file(
    [
        MemberMaintenance("M1", ADD, "MCAL-ALA", date(2026, 11, 1)),
        MemberMaintenance("M2", CHANGE, "DSNP-ALA", date(2026, 1, 1), date(2026, 12, 31)),
        MemberMaintenance("M3", TERMINATION, "MCAL-CC", date(2026, 1, 1), eligibility_end=date(2026, 10, 31)),
    ],
    at=AT,
)


def inserted(text: str, after: str, *segments: str, recount: bool = True) -> str:
    """`segments` added after the line `after`, with SE01 recounted (unless asked not to)."""
    text = text.replace(f"{after}~\n", f"{after}~\n" + "".join(f"{s}~\n" for s in segments), 1)
    if recount:
        text = re.sub(r"SE\*(\d+)\*", lambda m: f"SE*{int(m.group(1)) + len(segments)}*", text)
    return text


def removed(text: str, segment: str) -> str:
    return text.replace(f"{segment}~\n", "", 1)


# Member M2's loop: INS at segment 10 (line 12), REF 11, NM1 12, HD 13, DTP 14, DTP 15.
MALFORMED = {
    "an unknown maintenance type": GOOD.replace("INS*Y*18*021", "INS*Y*18*099"),
    "a name longer than the guide allows": GOOD.replace("MEMBER*PLACEHOLDER", "X" * 61 + "*PLACEHOLDER", 1),
    "a missing subscriber identifier (REF*0F)": removed(GOOD, "REF*0F*M2"),
    "an impossible date": GOOD.replace("DTP*348*D8*20261101", "DTP*348*D8*20261301"),
    # The same element valid twice before: a cached verdict must not carry over to it.
    "an impossible date after valid ones": "DTP*348*D8*20260132".join(GOOD.rsplit("DTP*348*D8*20260101", 1)),
    "an unknown segment": inserted(GOOD, "REF*0F*M2", "XYZ*1"),
    "a missing INS01": GOOD.replace("INS*Y*18*021", "INS**18*021"),
    "a REF with a qualifier the member loop does not allow": inserted(GOOD, "REF*0F*M2", "REF*XX*1"),
    "coverage (HD) before the member name": GOOD.replace(
        "NM1*IL*1*MEMBER*PLACEHOLDER****ZZ*M1~\nHD*021**HLT*MCAL-ALA*IND~",
        "HD*021**HLT*MCAL-ALA*IND~\nNM1*IL*1*MEMBER*PLACEHOLDER****ZZ*M1~",
    ),
    "too many elements": GOOD.replace("DTP*348*D8*20261101", "DTP*348*D8*20261101*X", 1),
    "a lower-case code": GOOD.replace("HD*021**HLT", "HD*021**hlt"),
    "a wrong transaction set count (SE01)": GOOD.replace("SE*23*", "SE*24*"),
    "a wrong group count (GE01)": GOOD.replace("GE*1*1", "GE*2*1"),
    "an interchange trailer for another interchange (IEA02)": GOOD.replace(
        "IEA*1*000000001", "IEA*1*000000002"
    ),
    "no trailers": GOOD.rsplit("SE*", 1)[0],
    "a segment unrecounted in SE01": inserted(
        GOOD, "NM1*IL*1*MEMBER*PLACEHOLDER****ZZ*M2", "DMG*D8*19500101*F", recount=False
    ),
}

# pyx12 names the group or interchange for its trailer's errors; the rules name the trailer.
_TRAILER = {"GS": "GE", "ISA": "IEA"}


def refusal(read, text: str) -> list[tuple[str, int | None, int | None]]:
    with pytest.raises(X12Rejected) as refused:
        read(text)
    return [(d["segment"], d["position"], d["line"]) for d in refused.value.detail]


def test_both_validators_accept_a_good_file_and_read_the_same_segments():
    assert read_checked(GOOD, GUIDE) == read_validated(GOOD)


def test_both_accept_member_demographics_the_rules_cover():
    text = inserted(
        GOOD,
        "NM1*IL*1*MEMBER*PLACEHOLDER****ZZ*M2",
        "N3*1 MAIN ST",
        "N4*OAKLAND*CA*94601",
        "DMG*D8*19500101*F",
    )
    rules = read_checked(text, GUIDE)
    assert rules == read_validated(text)
    assert [(s.id, s.loop, s.position) for s in rules if s.id in ("N3", "N4", "DMG")] == [
        ("N3", "2100A", 13),
        ("N4", "2100A", 14),
        ("DMG", "2100A", 15),
    ]


@pytest.mark.parametrize("case", sorted(MALFORMED))
def test_both_validators_refuse_a_malformed_file_at_the_same_segment_and_position(case: str):
    text = MALFORMED[case]
    full = refusal(read_validated, text)[0]
    rules = refusal(lambda t: read_checked(t, GUIDE), text)[0]
    assert rules[1:] == full[1:]
    assert rules[0] in (full[0], _TRAILER.get(full[0]))


def test_a_missing_subscriber_identifier_is_named_where_the_member_name_follows():
    assert refusal(lambda t: read_checked(t, GUIDE), MALFORMED["a missing subscriber identifier (REF*0F)"])[
        0
    ] == ("REF", 11, 13)


def test_the_rules_reasons_never_echo_the_value_that_may_be_a_name():
    with pytest.raises(X12Rejected) as refused:
        read_checked(MALFORMED["a name longer than the guide allows"], GUIDE)
    assert refused.value.detail[0]["field"] == "NM103"
    assert "X" * 61 not in str(refused.value.detail) + refused.value.message


def test_a_loop_outside_the_rules_goes_to_pyx12s_full_walk():
    # A custodial parent (2100F) is valid 834, but not a loop Hearth reads in one pass.
    text = inserted(GOOD, "NM1*IL*1*MEMBER*PLACEHOLDER****ZZ*M2", "NM1*S3*1*PARENT*PLACEHOLDER")
    with pytest.raises(OutsideSubset):
        read_checked(text, GUIDE)
    segments, validated_by = read_834(text, "rules")
    assert validated_by == "pyx12"
    assert ("NM1", "2100F") in [(s.id, s.loop) for s in segments]


def test_auto_validates_small_files_with_pyx12_and_big_ones_with_the_rules():
    assert read_834(GOOD, "auto")[1] == "pyx12"
    assert read_834(GOOD, "rules")[1] == f"rules {GUIDE.version} (834.5010.X220.A1.xml)"
    many = [MemberMaintenance(f"M{i}", ADD, "MCAL-ALA", date(2026, 11, 1)) for i in range(2500)]
    big = enrolment_file(many, at=AT)
    assert len(big) > GUIDE.full_validation_max_bytes
    segments, validated_by = read_834(big, "auto")
    assert validated_by.startswith("rules") and sum(s.id == "INS" for s in segments) == 2500


def test_text_that_is_not_x12_is_refused_at_the_isa_by_the_rules_too():
    assert refusal(lambda t: read_checked(t, GUIDE), "member_id,plan_id\nM1,p\n") == [("ISA", 1, 1)]
