"""Member attribution lists (FHIR Group): read from the Group, recorded as new spans that
supersede or follow the old ones, never as overwrites, and idempotent when re-sent."""

from datetime import UTC, date, datetime, timedelta

import orjson
import pytest
from fhir.resources.R4B.group import Group

from hearth_eligibility.attribution import attribution_list, plan_attribution
from hearth_eligibility.coverage import CoverageHistory, CoverageSpan
from hearth_eligibility.fhir import FhirProblem, load_fhir_profile, parse_resource

PROFILE = load_fhir_profile()
T0 = datetime(2026, 1, 2, tzinfo=UTC)
AT = T0 + timedelta(days=90)


def group(*members: dict, org: dict | None = None) -> Group:
    body = {
        "resourceType": "Group",
        "type": "person",
        "actual": True,
        "managingEntity": org or {"reference": "Organization/org-new"},
        "member": list(members),
    }
    return parse_resource(Group, orjson.dumps(body))


def member(member_id: str, start: str, end: str | None = None) -> dict:
    period = {"start": start} | ({"end": end} if end else {})
    return {
        "entity": {"identifier": {"system": PROFILE.member_identifier_system, "value": member_id}},
        "period": period,
    }


def span(span_id: str, start: date, end: date | None, org: str | None = "org-old") -> CoverageSpan:
    return CoverageSpan(span_id, "M-1", "plan-1", "medi_cal", "alameda", "aco-1", org, start, end, T0)


def plan(g: Group, *spans: CoverageSpan):
    histories = {"M-1": CoverageHistory.of("M-1", spans), "M-2": CoverageHistory.of("M-2", [])}
    return plan_attribution(attribution_list(g, PROFILE), histories, at=AT)


def test_attribution_inside_a_span_splits_it_into_before_during_and_after():
    old = span("s1", date(2026, 1, 1), None)
    result = plan(group(member("M-1", "2026-04-01", "2026-06-30")), old)
    pieces = [(s.start_date, s.end_date, s.provider_org_id, s.supersedes_span_id) for s in result.spans]
    assert pieces == [
        (date(2026, 1, 1), date(2026, 3, 31), "org-old", "s1"),
        (date(2026, 4, 1), date(2026, 6, 30), "org-new", None),
        (date(2026, 7, 1), None, "org-old", None),
    ]
    after = CoverageHistory.of("M-1", [old, *result.spans])
    assert after.in_force(date(2026, 5, 1)).provider_org_id == "org-new"
    assert after.in_force(date(2026, 5, 1), known_at=T0).provider_org_id == "org-old"  # the old answer stays
    assert {s.plan_id for s in result.spans} == {"plan-1"} and all(s.recorded_at == AT for s in result.spans)


def test_an_open_attribution_from_a_span_start_supersedes_it_whole():
    result = plan(group(member("M-1", "2026-01-01")), span("s1", date(2026, 1, 1), date(2026, 12, 31)))
    assert [(s.start_date, s.end_date, s.provider_org_id, s.supersedes_span_id) for s in result.spans] == [
        (date(2026, 1, 1), date(2026, 12, 31), "org-new", "s1")
    ]


def test_every_span_the_period_touches_is_attributed():
    result = plan(
        group(member("M-1", "2026-03-01")),
        span("s1", date(2026, 1, 1), date(2026, 6, 30)),
        span("s2", date(2026, 7, 1), None),
    )
    assert [(s.start_date, s.provider_org_id, s.supersedes_span_id) for s in result.spans] == [
        (date(2026, 1, 1), "org-old", "s1"),
        (date(2026, 3, 1), "org-new", None),
        (date(2026, 7, 1), "org-new", "s2"),
    ]


def test_a_re_sent_list_changes_nothing():
    already = span("s1", date(2026, 1, 1), None, org="org-new")
    result = plan(group(member("M-1", "2026-04-01")), already)
    assert (result.spans, result.unchanged) == ([], 1)


def test_a_member_without_coverage_in_the_period_is_refused_naming_the_entry():
    with pytest.raises(FhirProblem) as refused:
        plan(
            group(member("M-1", "2026-01-01"), member("M-2", "2026-01-01")),
            span("s1", date(2026, 1, 1), None),
        )
    assert [(i.expression, i.code) for i in refused.value.issues] == [("Group.member[1]", "business-rule")]


def test_the_group_names_an_organization_and_each_member_a_patient_and_a_full_period():
    with pytest.raises(FhirProblem) as refused:
        attribution_list(
            group(
                {"entity": {"reference": "Practitioner/p1"}, "period": {"start": "2026-01-01"}},
                {"entity": {"reference": "Patient/M-2"}},
                member("M-3", "2026-05-01", "2026-04-01"),
                member("M-4", "2026-05"),
                org={"display": "Sunrise Palliative"},
            ),
            PROFILE,
        )
    assert [i.expression for i in refused.value.issues] == [
        "Group.managingEntity",
        "Group.member[0].entity",
        "Group.member[1].period.start",
        "Group.member[2].period.end",
        "Group.member[3].period.start",
    ]


def test_the_organization_may_be_named_by_its_hearth_identifier():
    org = {"identifier": {"system": PROFILE.organization_identifier_system, "value": "org-7"}}
    assert attribution_list(group(member("M-1", "2026-01-01"), org=org), PROFILE).provider_org_id == "org-7"
