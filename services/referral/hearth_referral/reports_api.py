"""`GET /reports/...`: the referral service's reports, as JSON."""

from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter, Query

from hearth_platform.app import DatabaseDep
from hearth_platform.auth import CallerDep
from hearth_platform.errors import Invalid

from . import reports

router = APIRouter(tags=["reports"])

ReferrerIds = Annotated[
    list[Annotated[str, Query(min_length=1, max_length=64, pattern=r"^[^\x00-\x1f\x7f]+$")]] | None,
    Query(max_length=100, description="Only these referrers (repeat the parameter)."),
]
ReferredFrom = Annotated[date | None, Query(description="First referral date included.")]
ReferredTo = Annotated[date | None, Query(description="Last referral date included.")]


def _check_range(referred_from: date | None, referred_to: date | None) -> None:
    if referred_from and referred_to and referred_to < referred_from:
        raise Invalid(
            "the date range ends before it starts",
            detail=[{"field": "query.referred_to", "reason": "is before referred_from"}],
        )


@router.get("/reports/goals-of-care")
async def goals_of_care_report(
    db: DatabaseDep,
    caller: CallerDep,
    referrer_id: ReferrerIds = None,
    referred_from: ReferredFrom = None,
    referred_to: ReferredTo = None,
) -> dict[str, Any]:
    """Per referrer: referrals, how many came without a goals-of-care conversation (not held or
    not stated), and that share in percent; over the referrals the caller's organization sees."""
    _check_range(referred_from, referred_to)
    async with db.unit_of_work() as uow:
        rows = await reports.goals_of_care_by_referrer(
            uow.conn, caller, referrer_ids=referrer_id, referred_from=referred_from, referred_to=referred_to
        )
    return {"referred_from": referred_from, "referred_to": referred_to, "referrers": rows}


@router.get("/reports/conversion")
async def conversion_report(
    db: DatabaseDep, caller: CallerDep, referred_from: ReferredFrom = None, referred_to: ReferredTo = None
) -> dict[str, Any]:
    """Per source (ehr, aco, care_manager, algorithm): referrals, how many reached an initial
    assessment and how many ended enrolled, with both shares in percent of the referrals; over the
    referrals the caller's organization sees."""
    _check_range(referred_from, referred_to)
    async with db.unit_of_work() as uow:
        rows = await reports.conversion_by_source(
            uow.conn, caller, referred_from=referred_from, referred_to=referred_to
        )
    return {"referred_from": referred_from, "referred_to": referred_to, "sources": rows}
