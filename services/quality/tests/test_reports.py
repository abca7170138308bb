"""Results as CSV and as FHIR MeasureReports (validated by fhir.resources, R4B = R4 here)."""

import csv
import io
from datetime import UTC, datetime
from decimal import Decimal

from fhir.resources.R4B.bundle import Bundle
from fhir.resources.R4B.measurereport import MeasureReport

from hearth_quality.domain import MeasureResult, MeasureScore
from hearth_quality.fhir import bundle, individual_reports, summary_reports
from hearth_quality.measures import PARAMETERS
from hearth_quality.reports import CSV_COLUMNS, results_csv

AT = datetime(2026, 11, 2, 9, 30, tzinfo=UTC)
CONFIG = PARAMETERS["fhir"]
ADMISSIONS = MeasureScore(
    "unplanned-admissions-per-1000-mm", "1", "org-a", "2026-Q4", 2, 30, Decimal("0.066667"), True
)
SURROGATE = MeasureScore("surrogate-identified", "1", "org-b", "2026-Q4", 1, 2, None, False, exclusions=1)
RESULTS = [MeasureResult("s-1", 3, AT, ADMISSIONS), MeasureResult("s-2", 3, AT, SURROGATE)]


def test_csv_has_a_header_row_and_one_row_per_result_with_the_scaled_figure() -> None:
    text = results_csv(RESULTS, {"unplanned-admissions-per-1000-mm": Decimal(12000)})
    rows = list(csv.DictReader(io.StringIO(text)))
    assert text.splitlines()[0] == ",".join(CSV_COLUMNS)
    assert len(rows) == 2
    assert (rows[0]["period"], rows[0]["provider_org_id"], rows[0]["numerator"], rows[0]["denominator"]) == (
        "2026-Q4",
        "org-a",
        "2",
        "30",
    )
    assert Decimal(rows[0]["rate"]) == Decimal("0.066667")
    assert Decimal(rows[0]["scaled_rate"]) == Decimal("800.004")
    assert (rows[1]["rate"], rows[1]["scaled_rate"], rows[1]["reported"], rows[1]["exclusions"]) == (
        "",
        "",
        "false",
        "1",
    )


def _populations(report: MeasureReport) -> dict[str, int]:
    return {p.code.coding[0].code: p.count for p in report.group[0].population}


def test_summary_reports_are_valid_fhir_with_counts_and_score_only_when_reported() -> None:
    parsed = Bundle.model_validate(bundle(summary_reports(RESULTS, CONFIG)))
    admissions, surrogate = (MeasureReport.model_validate(e.resource.model_dump()) for e in parsed.entry)
    assert (admissions.id, admissions.type, admissions.status) == ("s-1", "summary", "complete")
    assert admissions.measure == "https://hearth.example/fhir/Measure/unplanned-admissions-per-1000-mm|1"
    assert admissions.reporter.identifier.value == "org-a"
    assert (str(admissions.period.start), str(admissions.period.end)) == ("2026-10-01", "2026-12-31")
    assert _populations(admissions) == {"denominator": 30, "denominator-exclusion": 0, "numerator": 2}
    assert admissions.group[0].measureScore.value == Decimal("0.066667")
    assert _populations(surrogate)["denominator-exclusion"] == 1
    assert surrogate.group[0].measureScore is None


def test_individual_reports_name_the_member_and_skip_measures_without_them() -> None:
    mine = MeasureScore("surrogate-identified", "1", "org-a", "2026-10", 1, 1, Decimal(1), True)
    absent = MeasureScore("telehealth-share", "1", "org-a", "2026-10", 0, 0, None, False)
    [report] = individual_reports("M-1", [mine, absent], AT, CONFIG)
    parsed = MeasureReport.model_validate(report)
    assert (parsed.type, parsed.subject.identifier.value) == ("individual", "M-1")
    assert _populations(parsed) == {"denominator": 1, "denominator-exclusion": 0, "numerator": 1}
