"""Coverage rosters: every line's errors named by line and field, contradictory spans named on
both sides, and a re-sent line recognised as already known."""

from datetime import UTC, date, datetime

from hearth_eligibility.coverage import CoverageHistory, CoverageSpan
from hearth_eligibility.roster import parse_csv, parse_ndjson, plan_roster

AT = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
HEADER = "member_id,plan_id,line_of_business,market,aco_id,provider_org_id,start_date,end_date\n"


def errors_of(parsed) -> list[tuple[int, str]]:
    return [(e.line, e.field) for e in parsed.errors]


def test_a_valid_csv_roster_parses_every_line_with_empty_optional_cells_as_none():
    parsed = parse_csv(
        HEADER
        + "M-1,plan-1,medi_cal,alameda,aco-1,org-1,2026-01-01,2026-12-31\n"
        + "\n"
        + "M-2,plan-1,d_snp,fresno,,,2026-02-01,\n"
    )
    assert parsed.errors == [] and parsed.count == 2
    second = parsed.lines[1]
    assert second.line == 4  # physical line numbers: the header is line 1, the blank line counts
    assert (second.fields.aco_id, second.fields.provider_org_id, second.fields.end_date) == (None, None, None)
    assert second.fields.start_date == date(2026, 2, 1)


def test_csv_errors_name_each_line_and_field_without_echoing_values():
    parsed = parse_csv(
        HEADER
        + "M-1,plan-1,medi_kal,alameda,,,2026-01-01,\n"
        + "M 2,plan-1,medi_cal,alameda,,,01/02/2026,\n"
        + "M-3,plan-1,medi_cal,,,,2026-05-01,2026-04-30\n"
        + "M-4,plan-1\n"
    )
    assert errors_of(parsed) == [
        (2, "line_of_business"),
        (3, "member_id"),
        (3, "start_date"),
        (4, "market"),
        (5, "(line)"),
    ]
    assert parsed.count == 4 and parsed.lines == []
    assert "01/02/2026" not in " ".join(e.reason for e in parsed.errors)
    assert next(e for e in parsed.errors if e.field == "market").reason == "is required"


def test_end_before_start_is_an_error_on_end_date():
    parsed = parse_csv(HEADER + "M-1,plan-1,medi_cal,alameda,,,2026-05-01,2026-04-30\n")
    assert errors_of(parsed) == [(2, "end_date")]


def test_a_csv_header_with_unknown_or_missing_columns_is_refused_on_line_1():
    parsed = parse_csv("member_id,plan,line_of_business,market,start_date\nM-1,p,medi_cal,x,2026-01-01\n")
    assert sorted(errors_of(parsed)) == [(1, "plan"), (1, "plan_id")]


def test_optional_columns_may_be_left_out_of_the_header():
    parsed = parse_csv("start_date,member_id,plan_id,line_of_business,market\n2026-01-01,M-1,p,medi_cal,x\n")
    assert parsed.errors == [] and parsed.lines[0].fields.end_date is None


def test_an_empty_roster_is_an_error():
    assert errors_of(parse_csv("")) == [(1, "(header)")]
    assert errors_of(parse_ndjson("\n\n")) == [(1, "(line)")]


def test_ndjson_lines_are_validated_like_csv_lines_and_numbers_are_not_dates():
    parsed = parse_ndjson(
        '{"member_id":"M-1","plan_id":"p","line_of_business":"commercial","market":"x","start_date":"2026-01-01"}\n'
        '{"member_id":"M-2","plan_id":"p","line_of_business":"commercial","market":"x","start_date":20260101}\n'
        "not json\n"
        "[1, 2]\n"
        '{"member_id":"M-3","plan_id":"p","line_of_business":"commercial","market":"x",'
        '"start_date":"2026-01-01","colour":"red"}\n'
    )
    assert errors_of(parsed) == [(2, "start_date"), (3, "(line)"), (4, "(line)"), (5, "colour")]
    assert [line.fields.member_id for line in parsed.lines] == ["M-1"]


def existing(span_id: str, start: date, end: date | None, org: str | None = "org-1") -> CoverageSpan:
    return CoverageSpan(span_id, "M-1", "plan-1", "medi_cal", "alameda", None, org, start, end, AT)


def histories(*spans: CoverageSpan, members=("M-1", "M-2")) -> dict[str, CoverageHistory]:
    return {m: CoverageHistory.of(m, [s for s in spans if s.member_id == m]) for m in members}


def test_lines_of_one_member_that_share_a_day_are_refused_naming_both_lines():
    parsed = parse_csv(
        HEADER
        + "M-1,plan-1,medi_cal,alameda,,org-1,2026-01-01,2026-06-30\n"
        + "M-2,plan-1,medi_cal,alameda,,org-1,2026-01-01,2026-06-30\n"
        + "M-1,plan-2,commercial,alameda,,org-1,2026-06-30,\n"
    )
    plan = plan_roster(parsed.lines, histories(), at=AT)
    assert [(e.line, e.field) for e in plan.errors] == [(4, "start_date")]
    reason = plan.errors[0].reason
    assert "line 4 (plan plan-2" in reason and "line 2 (plan plan-1, 2026-01-01 to 2026-06-30)" in reason


def test_a_line_contradicting_a_span_in_effect_names_that_span():
    parsed = parse_csv(HEADER + "M-1,plan-2,medi_cal,alameda,,org-1,2026-03-01,\n")
    plan = plan_roster(parsed.lines, histories(existing("s1", date(2026, 1, 1), None)), at=AT)
    assert len(plan.errors) == 1 and plan.spans == []
    assert "line 2" in plan.errors[0].reason and "span s1 (plan plan-1, 2026-01-01 to open-ended)" in (
        plan.errors[0].reason
    )


def test_a_re_sent_line_is_unchanged_and_new_lines_become_spans_recorded_now():
    parsed = parse_csv(
        HEADER
        + "M-1,plan-1,medi_cal,alameda,,org-1,2026-01-01,2026-06-30\n"
        + "M-1,plan-1,medi_cal,alameda,,org-1,2026-07-01,\n"
    )
    plan = plan_roster(parsed.lines, histories(existing("s1", date(2026, 1, 1), date(2026, 6, 30))), at=AT)
    assert plan.errors == [] and plan.unchanged == 1
    assert [(s.start_date, s.end_date, s.recorded_at) for s in plan.spans] == [(date(2026, 7, 1), None, AT)]


def test_a_line_differing_from_the_span_in_effect_only_by_organization_is_a_contradiction():
    parsed = parse_csv(HEADER + "M-1,plan-1,medi_cal,alameda,,org-2,2026-01-01,2026-06-30\n")
    plan = plan_roster(parsed.lines, histories(existing("s1", date(2026, 1, 1), date(2026, 6, 30))), at=AT)
    assert plan.unchanged == 0 and "span s1" in plan.errors[0].reason
