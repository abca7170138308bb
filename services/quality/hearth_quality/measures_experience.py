"""Member experience: "Feeling Heard and Understood" (MIPS #495), one measure per survey item.

Each measure is the share of surveys whose answer to its item is the top box (5, "completely
true", on the 1..5 scale). Surveys are counted, not members: every survey a member returned for
the organization, dated in the month on a day the member was enrolled there. Answers given by a
proxy are excluded unless the parameters say otherwise (the items ask for the member's own
experience). Below the minimum survey count the share is not reported.
"""

from collections.abc import Mapping
from typing import Any

from .domain import Period
from .facts import Survey
from .ratio import Membership, RatioMeasure, Tally
from .sql_declaration import SqlDeclaration


def _eligible(m: Membership, period: Period, count_proxy_answers: bool) -> list[Survey]:
    return [s for s in m.surveys_in(period) if count_proxy_answers or not s.proxy]


def top_box_share(item: str, params: Mapping[str, Any]) -> RatioMeasure:
    top_box = int(params["top_box"])
    count_proxy_answers = bool(params["count_proxy_answers"])

    def top_box_answers(m: Membership, period: Period) -> int:
        return sum(1 for s in _eligible(m, period, count_proxy_answers) if s.answers[item] == top_box)

    def surveys(m: Membership, period: Period) -> int:
        return len(_eligible(m, period, count_proxy_answers))

    numerator: Tally = top_box_answers
    return RatioMeasure(
        measure_id=f"fhu-top-box-{item.replace('_', '-')}",
        version=str(params["version"]),
        title=f"Feeling Heard and Understood: share of top-box ({top_box}) answers to {item}",
        numerator=numerator,
        denominator=surveys,
        minimum_denominator=int(params["minimum_surveys"]),
        sql=SqlDeclaration(
            "top_box_surveys",
            {"item": item, "top_box": top_box, "count_proxy_answers": count_proxy_answers},
        ),
    )


def feeling_heard_measures(params: Mapping[str, Any]) -> tuple[RatioMeasure, ...]:
    return tuple(top_box_share(item, params) for item in params["items"])
