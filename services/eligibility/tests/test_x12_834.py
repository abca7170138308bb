"""834 enrolment files: pyx12 validation with located errors, and how member loops change the
coverage registry (adds, changes and terminations as new, superseding spans)."""

from datetime import UTC, date, datetime

import pytest

from hearth_eligibility.coverage import CoverageHistory, CoverageSpan
from hearth_eligibility.x12.enrolment_834 import load_plan_codes, plan_enrolment, read_maintenance
from hearth_eligibility.x12.enrolment_file import (
    ADD,
    CHANGE,
    TERMINATION,
    MemberMaintenance,
    enrolment_file,
)
from hearth_eligibility.x12.validation import X12Rejected, read_validated

AT = datetime(2026, 11, 23, 22, 0, tzinfo=UTC)
EARLIER = datetime(2026, 1, 2, tzinfo=UTC)
CODES = load_plan_codes()


def file_of(*members: MemberMaintenance) -> str:
    return enrolment_file(members, at=AT)


def read(text: str):
    items, errors = read_maintenance(read_validated(text), CODES)
    assert errors == []
    return items


def span(member: str, start: date, end: date | None = None, plan: str = "medi-cal-alameda") -> CoverageSpan:
    return CoverageSpan("s-1", member, plan, "medi_cal", "alameda", "aco-1", "org-1", start, end, EARLIER)


def test_generated_files_are_valid_005010X220A1_with_correct_counts():
    text = file_of(MemberMaintenance("M1", ADD, "MCAL-ALA", date(2026, 11, 1)))
    lines = text.splitlines()
    assert lines[2] == "ST*834*0001*005010X220A1~"
    # ST + BGN + 2 N1 + 5 member segments + SE = 10
    assert lines[-3] == "SE*10*0001~"
    assert [s.id for s in read_validated(text)][-3:] == ["SE", "GE", "IEA"]


def test_member_loops_read_maintenance_member_plan_and_dates():
    text = file_of(
        MemberMaintenance("M1", ADD, "MCAL-ALA", date(2026, 11, 1)),
        MemberMaintenance("M2", CHANGE, "DSNP-ALA", date(2026, 1, 1), date(2026, 12, 31)),
        MemberMaintenance("M3", TERMINATION, "MCAL-CC", date(2026, 1, 1), eligibility_end=date(2026, 10, 31)),
    )
    items = read(text)
    assert [(i.maintenance, i.member_id, i.plan.plan_id, i.plan.line_of_business) for i in items] == [
        ("021", "M1", "medi-cal-alameda", "medi_cal"),
        ("001", "M2", "d-snp-alameda", "d_snp"),
        ("024", "M3", "medi-cal-contra-costa", "medi_cal"),
    ]
    assert (items[1].start, items[1].end) == (date(2026, 1, 1), date(2026, 12, 31))
    assert items[2].termination == date(2026, 10, 31)
    # Member loops start at segment 5 of the transaction set (after ST, BGN and two N1) and have
    # 5, 6 and 7 segments; lines count the ISA and GS lines too.
    assert [(i.position, i.line) for i in items] == [(5, 7), (10, 12), (16, 18)]


def test_a_wrong_segment_count_names_the_trailer_and_its_line():
    text = file_of(MemberMaintenance("M1", ADD, "MCAL-ALA", date(2026, 11, 1))).replace("SE*10*", "SE*11*")
    with pytest.raises(X12Rejected) as refused:
        read_validated(text)
    assert refused.value.detail[0]["segment"] == "SE"
    assert "SE count of 11" in refused.value.detail[0]["reason"]


def test_an_invalid_code_names_segment_element_position_and_line():
    text = file_of(
        MemberMaintenance("M1", ADD, "MCAL-ALA", date(2026, 11, 1)),
        MemberMaintenance("M2", ADD, "MCAL-ALA", date(2026, 11, 1)),
    ).replace("INS*Y*18*021", "INS*Y*18*099", 2)
    with pytest.raises(X12Rejected) as refused:
        read_validated(text)
    assert [(d["segment"], d["field"], d["position"], d["line"]) for d in refused.value.detail] == [
        ("INS", "INS03", 5, 7),
        ("INS", "INS03", 10, 12),
    ]
    assert "not a valid code" in refused.value.detail[0]["reason"]


def test_pyx12_reasons_never_echo_the_value_that_may_be_a_name():
    text = file_of(MemberMaintenance("M1", ADD, "MCAL-ALA", date(2026, 11, 1))).replace(
        "MEMBER*PLACEHOLDER", "X" * 61 + "*PLACEHOLDER"
    )
    with pytest.raises(X12Rejected) as refused:
        read_validated(text)
    assert refused.value.detail[0]["field"] == "NM103"
    assert "X" * 61 not in str(refused.value.detail) + refused.value.message


def test_text_that_is_not_x12_is_refused_at_the_isa():
    with pytest.raises(X12Rejected) as refused:
        read_validated("member_id,plan_id\nM1,p\n")
    assert refused.value.detail == [
        {
            "field": "ISA",
            "segment": "ISA",
            "position": 1,
            "line": 1,
            "reason": "the body is not an X12 interchange (it must start with a 106-character ISA)",
        }
    ]


def test_an_unknown_plan_code_is_refused_with_the_mapping_version():
    items, errors = read_maintenance(
        read_validated(file_of(MemberMaintenance("M1", ADD, "NOPE", date(2026, 11, 1)))), CODES
    )
    assert items == []
    assert [(e.element, e.position) for e in errors] == [("HD04", 5)]
    assert f"version {CODES.version}" in errors[0].reason


def test_a_termination_is_a_new_span_superseding_the_one_in_force():
    old = span("M1", date(2026, 1, 1))
    items = read(
        file_of(
            MemberMaintenance(
                "M1", TERMINATION, "MCAL-ALA", date(2026, 1, 1), eligibility_end=date(2026, 10, 31)
            )
        )
    )
    plan = plan_enrolment(items, {"M1": CoverageHistory.of("M1", [old])}, at=AT)
    assert plan.errors == []
    [new] = plan.spans
    assert (new.start_date, new.end_date, new.supersedes_span_id) == (
        date(2026, 1, 1),
        date(2026, 10, 31),
        "s-1",
    )
    # Attribution is not in an 834, so the terminated span keeps it.
    assert (new.aco_id, new.provider_org_id, new.recorded_at) == ("aco-1", "org-1", AT)
    history = CoverageHistory.of("M1", [old, new])
    assert history.in_force(date(2026, 11, 15)) is None
    assert history.in_force(date(2026, 11, 15), known_at=datetime(2026, 11, 1, tzinfo=UTC)) == old


def test_adds_changes_and_terminations_in_one_file_apply_in_order():
    items = read(
        file_of(
            MemberMaintenance("M1", ADD, "MCAL-ALA", date(2026, 11, 1)),
            MemberMaintenance("M1", CHANGE, "DSNP-ALA", date(2026, 11, 1)),
            MemberMaintenance(
                "M1", TERMINATION, "DSNP-ALA", date(2026, 11, 1), eligibility_end=date(2026, 12, 31)
            ),
        )
    )
    plan = plan_enrolment(items, {"M1": CoverageHistory.of("M1", [])}, at=AT)
    added, changed, ended = plan.spans
    assert (changed.plan_id, changed.supersedes_span_id) == ("d-snp-alameda", added.span_id)
    assert (ended.plan_id, ended.end_date, ended.supersedes_span_id) == (
        "d-snp-alameda",
        date(2026, 12, 31),
        changed.span_id,
    )


def test_a_resent_add_is_unchanged_and_an_overlapping_add_is_refused_with_the_span():
    existing = span("M1", date(2026, 1, 1))
    history = {"M1": CoverageHistory.of("M1", [existing])}
    same = read(file_of(MemberMaintenance("M1", ADD, "MCAL-ALA", date(2026, 1, 1))))
    assert plan_enrolment(same, history, at=AT).unchanged == 1
    other = read(file_of(MemberMaintenance("M1", ADD, "MAPD-ALA", date(2026, 6, 1))))
    refused = plan_enrolment(other, history, at=AT)
    assert refused.spans == []
    [error] = refused.errors
    assert (error.segment, error.element, error.position) == ("INS", "DTP348", 5)
    assert "overlaps span s-1" in error.reason and "change (001)" in error.reason


def test_a_change_or_termination_without_coverage_in_effect_is_refused():
    items = read(
        file_of(
            MemberMaintenance("M9", CHANGE, "MCAL-ALA", date(2026, 1, 1)),
            MemberMaintenance(
                "M9", TERMINATION, "MCAL-ALA", date(2026, 1, 1), eligibility_end=date(2026, 3, 31)
            ),
        )
    )
    plan = plan_enrolment(items, {"M9": CoverageHistory.of("M9", [])}, at=AT)
    assert [(e.element, e.position) for e in plan.errors] == [("DTP348", 5), ("DTP357", 10)]
    assert "no coverage in effect" in plan.errors[1].reason


def test_two_contradictory_adds_in_one_file_are_refused_naming_the_first_loop():
    items = read(
        file_of(
            MemberMaintenance("M1", ADD, "MCAL-ALA", date(2026, 11, 1)),
            MemberMaintenance("M1", ADD, "COMM-BAY", date(2026, 12, 1), date(2027, 6, 30)),
        )
    )
    plan = plan_enrolment(items, {"M1": CoverageHistory.of("M1", [])}, at=AT)
    [error] = plan.errors
    assert (error.segment, error.position, error.line) == ("INS", 10, 12)
    assert "the member loop at segment 5 (line 7)" in error.reason


def test_the_member_id_is_ref_0f_and_never_a_social_security_number_in_nm1():
    text = file_of(MemberMaintenance("M1", ADD, "MCAL-ALA", date(2026, 11, 1))).replace(
        "****ZZ*M1~", "****34*123456789~"
    )
    [item] = read(text)
    assert item.member_id == "M1"
