"""Who may see and change a referral, decided in SQL so lists are filtered where they are read.

The referral service knows three links between an organization and a referral:
- the provider organization that serves it (`referrals.provider_org_id`, set by the referrer or at
  triage), and the one the member is attributed to (`member_attributions`, from eligibility's
  decisions): they work the referral, so they see it and move it on;
- every organization whose client referred the member into it (`referral_referrers`): an EHR or an
  ACO may refer any member, and keeps seeing its referral's status (the closed loop), but does not
  move it on. A later referral linked to an open one makes its sender a referrer of that one.
The service does not know ACO attribution (eligibility keeps it): an ACO's client sees the
referrals it made. Claims are the plan's: importing them is plan-only. The plan sees everything.
Another organization's single referral answers 404, so ids are not confirmed.
"""

from typing import Any

from sqlalchemy import ColumnElement, exists, or_, select, true
from sqlalchemy.ext.asyncio import AsyncConnection

from hearth_platform.auth import Forbidden, Principal
from hearth_platform.db import Database

from .domain import ReferralNotFound
from .tables import member_attributions, referral_referrers, referrals


def serves(caller: Principal) -> ColumnElement[bool]:
    """Referrals the caller's organization works: it serves them or the member is attributed to it."""
    if caller.is_plan:
        return true()
    attributed = exists().where(
        member_attributions.c.member_id == referrals.c.member_id,
        member_attributions.c.provider_org_id == caller.org,
    )
    return or_(referrals.c.provider_org_id == caller.org, attributed)


def sees(caller: Principal) -> ColumnElement[bool]:
    """Referrals the caller's organization may read: those it works and those it referred."""
    if caller.is_plan:
        return true()
    referred = exists().where(
        referral_referrers.c.referral_id == referrals.c.referral_id,
        referral_referrers.c.org_id == caller.org,
    )
    return or_(serves(caller), referred)


#: The same rule for the reports' SQL (the referrals table aliased `r`), with `caller_params`.
SEES_SQL = """(CAST(:caller_is_plan AS boolean)
    OR r.provider_org_id = :caller_org
    OR EXISTS (SELECT 1 FROM referral.member_attributions ma
               WHERE ma.member_id = r.member_id AND ma.provider_org_id = :caller_org)
    OR EXISTS (SELECT 1 FROM referral.referral_referrers rr
               WHERE rr.referral_id = r.referral_id AND rr.org_id = :caller_org))"""


def caller_params(caller: Principal) -> dict[str, Any]:
    return {"caller_is_plan": caller.is_plan, "caller_org": caller.org}


async def _reach(conn: AsyncConnection, caller: Principal, referral_id: str) -> tuple[bool, bool]:
    row = (
        await conn.execute(
            select(sees(caller).label("sees"), serves(caller).label("serves")).where(
                referrals.c.referral_id == referral_id
            )
        )
    ).first()
    return (False, False) if row is None else (bool(row.sees), bool(row.serves))


async def require_sight(db: Database, caller: Principal, referral_id: str) -> None:
    """404 unless the caller's organization may read the referral (as for an unknown id)."""
    async with db.unit_of_work() as uow:
        visible, _ = await _reach(uow.conn, caller, referral_id)
    if not visible:
        raise ReferralNotFound(referral_id)


async def require_work(db: Database, caller: Principal, referral_id: str) -> None:
    """404 unless the caller may read the referral; 403 when it may read but not move it on (a
    referrer follows its referral, the serving organization works it)."""
    async with db.unit_of_work() as uow:
        visible, working = await _reach(uow.conn, caller, referral_id)
    if not visible:
        raise ReferralNotFound(referral_id)
    if not working:
        raise Forbidden("only the organization serving the referral, or the plan, may move it on")


def require_own_org(caller: Principal, org_id: str | None, field: str) -> None:
    """A provider's client may name only its own organization where a body names one."""
    if org_id is not None and not caller.sees_org(org_id):
        raise Forbidden(f"{field} must be the caller's own organization")


def scoped_key(caller: Principal, key: str | None) -> str | None:
    """Retry keys are the sender's: one organization's key never answers with another's referral."""
    return None if key is None else f"{caller.org}|{key}"
