"""The economic evaluation's arithmetic, by hand: PMPMs half-up to cents, hospital days per 1,000
member-months to a tenth, the return per dollar from the rounded PMPMs, and a stay's days counted
once per claim."""

import csv
import io
from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest

from hearth_billing.economics import (
    OrganizationTotals,
    claim_cost_row,
    evaluate,
    hospital_days,
    latest_per_line,
    program_totals,
    read_economics,
    report_csv,
)
from hearth_schemas import ClaimLineReceived

D = Decimal
SETTINGS = read_economics()


def claim(claim_type: str, start: date, end: date, paid: str = "100.00", line: int = 1) -> ClaimLineReceived:
    return ClaimLineReceived(
        claim_id="C-1",
        line_number=line,
        member_id="M-1",
        claim_type=claim_type,
        service_from=start,
        service_to=end,
        paid_amount=D(paid),
    )


def totals(org: str = "org-a", **overrides: object) -> OrganizationTotals:
    values: dict[str, object] = {
        "provider_org_id": org,
        "members": 2,
        "member_months": 3,
        "bundled_paid": D("1400.00"),
        "claims_before": D("13200.75"),
        "hospital_days_before": 6,
        "claims_after": D("2950.10"),
        "hospital_days_after": 2,
    }
    return OrganizationTotals(**{**values, **overrides})  # type: ignore[arg-type]


def test_the_default_baseline_is_six_months_before_enrolment_and_only_inpatient_claims_have_days():
    assert SETTINGS.months_before == 6
    assert SETTINGS.inpatient_claim_types == frozenset({"inpatient"})


def test_a_stay_counts_its_midnights_and_a_same_day_stay_one_day():
    assert hospital_days(claim("inpatient", date(2020, 3, 2), date(2020, 3, 7)), SETTINGS) == 5
    assert hospital_days(claim("inpatient", date(2020, 2, 10), date(2020, 2, 10)), SETTINGS) == 1
    assert hospital_days(claim("outpatient", date(2020, 3, 2), date(2020, 3, 7)), SETTINGS) == 0


def test_a_claim_line_is_kept_in_the_month_of_its_first_service_day():
    row = claim_cost_row(
        "ev-1", claim("professional", date(2020, 6, 30), date(2020, 7, 2), "12.34"), SETTINGS
    )
    assert row == {
        "claim_id": "C-1",
        "line_number": 1,
        "member_id": "M-1",
        "service_month": "2020-06-01",
        "paid_amount": "12.34",
        "inpatient_days": 0,
        "event_id": "ev-1",
    }


def test_a_correction_in_the_same_batch_replaces_the_line_it_corrects():
    first = {"claim_id": "C-1", "line_number": 1, "paid_amount": "100.10"}
    other = {"claim_id": "C-1", "line_number": 2, "paid_amount": "5.00"}
    corrected = {"claim_id": "C-1", "line_number": 1, "paid_amount": "150.10"}
    assert latest_per_line([first, other, corrected]) == [corrected, other]


def test_an_organizations_row_rounds_each_pmpm_half_up_and_returns_savings_per_dollar_paid():
    row = evaluate(totals(), months_before=6)
    assert row.member_months_before == 12
    assert row.bundled_pmpm == D("466.67")  # 1400.00 / 3 = 466.666...
    assert row.claims_cost_pmpm_before == D("1100.06")  # 13200.75 / 12 = 1100.0625
    assert row.claims_cost_pmpm_after == D("983.37")  # 2950.10 / 3 = 983.3666...
    assert row.hospital_days_per_1000_before == D("500.0")  # 6 x 1000 / 12
    assert row.hospital_days_per_1000_after == D("666.7")  # 2 x 1000 / 3 = 666.66...
    # (1100.06 - 983.37) / 466.67 = 116.69 / 466.67 = 0.25005...
    assert row.return_per_dollar == D("0.25")


def test_a_half_cent_rounds_up():
    row = evaluate(totals(member_months=2, bundled_paid=D("0.01"), claims_after=D("0.05")), months_before=6)
    assert row.bundled_pmpm == D("0.01")  # 0.005
    assert row.claims_cost_pmpm_after == D("0.03")  # 0.025


def test_costs_that_rose_give_a_negative_return_and_no_payment_gives_no_ratio():
    rose = evaluate(totals(claims_after=D("6000.00")), months_before=6)
    # (1100.06 - 2000.00) / 466.67 = -1.92842...
    assert rose.return_per_dollar == D("-1.93")
    unpaid = evaluate(totals(member_months=0, members=0, bundled_paid=D("0.00")), months_before=6)
    assert (unpaid.bundled_pmpm, unpaid.claims_cost_pmpm_after, unpaid.return_per_dollar) == (
        None,
        None,
        None,
    )
    assert unpaid.hospital_days_per_1000_before is None


def test_the_program_adds_up_its_organizations():
    program = program_totals(
        [totals(), totals("org-b", members=1, member_months=1, bundled_paid=D("600.00"))]
    )
    assert program.provider_org_id is None
    assert (program.members, program.member_months, program.bundled_paid) == (3, 4, D("2000.00"))
    assert program.claims_before == D("26401.50") and program.hospital_days_after == 4


def test_the_csv_has_a_header_and_an_empty_cell_for_a_ratio_without_denominator():
    rows = [evaluate(totals(), 6), evaluate(program_totals([totals()]), 6)]
    parsed = list(csv.DictReader(io.StringIO(report_csv(rows))))
    assert parsed[0]["provider_org_id"] == "org-a" and parsed[0]["bundled_pmpm"] == "466.67"
    assert parsed[0]["return_per_dollar"] == "0.25"
    assert parsed[1]["provider_org_id"] == "" and parsed[1]["claims_cost_pmpm_before"] == "1100.06"


def test_a_baseline_out_of_range_is_refused_at_start_up(tmp_path: Path):
    bad = tmp_path / "economics.toml"
    bad.write_text('version = "x"\nmonths_before = 0\ninpatient_claim_types = []\nminimum_stay_days = 1\n')
    with pytest.raises(ValueError, match="months_before"):
        read_economics(bad)
