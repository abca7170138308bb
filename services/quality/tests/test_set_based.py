"""The set-based form of the catalogue: every measure names a SQL family, declarations are
checked against each family's vocabulary before any SQL runs, and suppression of the aggregate
counts follows the in-memory engine."""

from decimal import Decimal

import pytest

from hearth_quality.domain import Period
from hearth_quality.measures import CATALOGUE, PARAMETERS, documented_within_window
from hearth_quality.scores_repository import by_family, declaration
from hearth_quality.set_based import finish
from hearth_quality.sql_cases import documented_within_window as documented_sql
from hearth_quality.sql_memberships import top_box_surveys, visits

OCTOBER = Period.month("2026-10")


def test_every_shipped_measure_names_a_known_sql_family_and_families_group_them() -> None:
    families = by_family(CATALOGUE)
    assert sum(len(ms) for ms in families.values()) == len(CATALOGUE) == 20
    assert [m.measure_id for m in families["visits"]] == [
        "visits-per-member-month-rn",
        "visits-per-member-month-social-worker",
        "visits-per-member-month-chaplain",
        "visits-per-member-month-physician",
        "visits-per-member-month-np",
        "visits-per-member-month-care-navigator",
        "telehealth-share",
        "visits-reported-within-7-days",
    ]
    assert len(families) == 8
    for m in CATALOGUE:
        assert declaration(m).family in families


def test_a_new_measure_of_a_family_is_a_declaration_with_other_parameters() -> None:
    params = {
        **PARAMETERS["advance_care_plan"],
        "documented_by": ["goals_of_care_documented"],
        "window_days": 60,
    }
    measure = documented_within_window("goals-of-care-60", "Goals of care documented", params)
    sql = declaration(measure)
    assert (sql.family, sql.params["window_days"], sql.params["documented_by"]) == (
        "documented_within_window",
        60,
        ("goals_of_care_documented",),
    )
    statement = documented_sql([(measure.measure_id, sql.params)])
    assert "a.goals_of_care_documented" in statement.sql
    assert statement.binds == {"measure_0": "goals-of-care-60", "window_0": 60}


def test_a_declaration_naming_an_unknown_column_is_refused_before_any_sql() -> None:
    with pytest.raises(ValueError, match="documented_by"):
        documented_sql([("m", {"window_days": 30, "documented_by": ["1=1 OR surrogate_identified"]})])
    with pytest.raises(ValueError, match="item"):
        top_box_surveys([("m", {"item": "pain_help; DROP", "top_box": 5, "count_proxy_answers": False})])
    with pytest.raises(ValueError, match="filter"):
        visits([("m", {"where": {"minutes": [30]}, "per": "visit"})])
    with pytest.raises(ValueError, match="documented_by"):
        documented_within_window("m", "t", {**PARAMETERS["surrogate_identified"], "documented_by": ["tier"]})


def test_aggregate_counts_are_suppressed_like_the_in_memory_engine() -> None:
    below = finish("proportion", "m", "1", 5, OCTOBER, "org", 3, 4, 1)
    assert (below.rate, below.reported, below.exclusions) == (None, False, 1)
    reported = finish("proportion", "m", "1", 5, OCTOBER, "org", 2, 6, 0)
    assert (reported.rate, reported.reported) == (Decimal("0.333333"), True)
    empty_ratio = finish("ratio", "m", "1", 1, OCTOBER, "org", 0, 0, 0)
    assert (empty_ratio.rate, empty_ratio.reported) == (None, False)
    beyond_contract = finish("ratio", "m", "1", 1, OCTOBER, "org", 2000, 2, 0)
    assert (beyond_contract.rate, beyond_contract.reported, beyond_contract.numerator) == (None, False, 2000)
