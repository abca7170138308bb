"""Measure results as FHIR R4 `MeasureReport`s. Plain Python (dicts shaped for fhir.resources.R4B).

- summary: one report per organization and measure, from a stored result (its id is the score
  id, so a report is traceable to the run and the `PerformanceScored` event that carried it);
- individual: one report per measure for one member, from the member's own facts scored the
  same way (counts of 0 or 1 for a measure of members; the member's own tally for a ratio).

The `measure` is the measure's canonical URL with its version; populations use the codes of
http://terminology.hl7.org/CodeSystem/measure-population. A result below its minimum denominator
has counts but no `measureScore`, as it is not reported.
"""

from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any

from .domain import MeasureResult, MeasureScore, Period

POPULATION = "http://terminology.hl7.org/CodeSystem/measure-population"


def _population(code: str, count: int) -> dict[str, Any]:
    return {"code": {"coding": [{"system": POPULATION, "code": code}]}, "count": count}


def _report(
    score: MeasureScore,
    period: Period,
    kind: str,
    when: datetime,
    config: Mapping[str, str],
    report_id: str | None = None,
    subject: str | None = None,
) -> dict[str, Any]:
    group: dict[str, Any] = {
        "population": [
            _population("denominator", score.denominator),
            _population("denominator-exclusion", score.exclusions),
            _population("numerator", score.numerator),
        ]
    }
    if score.reported and score.rate is not None:
        group["measureScore"] = {"value": score.rate}
    report: dict[str, Any] = {
        "resourceType": "MeasureReport",
        "status": "complete",
        "type": kind,
        "measure": f"{config['measure_base']}{score.measure_id}|{score.measure_version}",
        "date": when.isoformat(),
        "reporter": {"identifier": {"system": config["organization_system"], "value": score.provider_org_id}},
        "period": {"start": period.start.isoformat(), "end": period.end.isoformat()},
        "group": [group],
    }
    if report_id is not None:
        report["id"] = report_id
    if subject is not None:
        report["subject"] = {"identifier": {"system": config["member_system"], "value": subject}}
    return report


def summary_reports(results: Iterable[MeasureResult], config: Mapping[str, str]) -> list[dict[str, Any]]:
    return [
        _report(r.score, Period.parse(r.score.period), "summary", r.computed_at, config, report_id=r.score_id)
        for r in results
    ]


def individual_reports(
    member_id: str, scores: Iterable[MeasureScore], when: datetime, config: Mapping[str, str]
) -> list[dict[str, Any]]:
    """Reports of the member's own scores; measures in which the member is in no population are
    left out (nothing to say about them)."""
    return [
        _report(s, Period.parse(s.period), "individual", when, config, subject=member_id)
        for s in scores
        if s.denominator or s.numerator or s.exclusions
    ]


def bundle(reports: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "resourceType": "Bundle",
        "type": "searchset",
        "total": len(reports),
        "entry": [{"resource": r} for r in reports],
    }
