"""Which organization's quality data a caller reads or reports, by kind of organization."""

import pytest

from hearth_platform.auth import Forbidden, Principal
from hearth_quality.authorization import check_plan, check_reporter, readable_org

ALL = frozenset({"quality:read", "quality:write"})
PLAN = Principal("plan-admin", "plan", "plan", ALL)
PROVIDER = Principal("ehr-a", "org-a", "provider", ALL)
ACO = Principal("aco-system", "org-a", "aco", ALL)


def test_the_plan_reads_the_organization_it_names_or_every_organization() -> None:
    assert readable_org(PLAN, "org-b") == "org-b"
    assert readable_org(PLAN, None) is None


def test_a_provider_reads_its_own_organization_whether_or_not_it_names_it() -> None:
    assert readable_org(PROVIDER, None) == "org-a"
    assert readable_org(PROVIDER, "org-a") == "org-a"


def test_a_provider_naming_another_organization_is_refused_naming_the_parameter() -> None:
    with pytest.raises(Forbidden) as refused:
        readable_org(PROVIDER, "org-b", "reporter")
    assert refused.value.detail == [{"field": "reporter", "reason": "must be the client's organization"}]


def test_an_aco_is_refused_even_results_under_its_own_organization_id() -> None:
    with pytest.raises(Forbidden):
        readable_org(ACO, None)
    with pytest.raises(Forbidden):
        readable_org(ACO, "org-a")


def test_a_provider_reports_only_as_itself_and_the_plan_for_anyone() -> None:
    check_reporter(PROVIDER, "org-a")
    check_reporter(PLAN, "org-b")
    with pytest.raises(Forbidden) as refused:
        check_reporter(PROVIDER, "org-b")
    assert refused.value.detail[0]["field"] == "provider_org_id"
    with pytest.raises(Forbidden):
        check_reporter(ACO, "org-a")


def test_scoring_on_demand_is_the_plans_alone() -> None:
    check_plan(PLAN, "scoring")
    for caller in (PROVIDER, ACO):
        with pytest.raises(Forbidden):
            check_plan(caller, "scoring")
