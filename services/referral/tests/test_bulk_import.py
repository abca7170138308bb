from hearth_referral.api import ReferralIn
from hearth_referral.bulk_import import parse_referral_list

CSV = """member_id,source,referrer_id,referral_date,goals_of_care_discussed
M-1,aco,aco-1,2026-10-01,true
M-2,fax,aco-1,2026-10-01,
M-3,aco,aco-1,2026-02-30,false
M-4,care_manager,cm-9,2026-10-02,
"""


def test_a_csv_list_keeps_good_lines_and_reports_bad_ones_by_line_and_field():
    parsed = parse_referral_list(CSV, "text/csv", ReferralIn)
    assert [(n, r.member_id) for n, r in parsed.good] == [(2, "M-1"), (5, "M-4")]
    assert [(e.line, e.field) for e in parsed.errors] == [(3, "source"), (4, "referral_date")]
    assert parsed.good[1][1].goals_of_care_discussed is None


def test_a_csv_header_missing_a_required_column_is_one_clear_error():
    parsed = parse_referral_list("member_id,source\nM-1,aco\n", "text/csv", ReferralIn)
    assert parsed.good == []
    assert [(e.line, e.field, e.reason) for e in parsed.errors] == [
        (1, "referrer_id", "required column missing from the header"),
        (1, "referral_date", "required column missing from the header"),
    ]


def test_ndjson_reports_broken_json_and_unknown_fields_without_echoing_values():
    text = (
        '{"member_id": "M-1", "source": "ehr", "referrer_id": "dr-1", "referral_date": "2026-10-01"}\n'
        "{not json\n"
        '{"member_id": "M-2", "source": "ehr", "referrer_id": "dr-1", "referral_date": "2026-10-01",'
        ' "patient_name": "Jane Doe"}\n'
    )
    parsed = parse_referral_list(text, "application/x-ndjson", ReferralIn)
    assert [n for n, _ in parsed.good] == [1]
    assert [(e.line, e.field) for e in parsed.errors] == [(2, ""), (3, "patient_name")]
    assert all("Jane" not in e.reason for e in parsed.errors)
