"""Reports of the referral service, computed in SQL over all referrals in a referral-date range.

- Goals-of-care gap per referrer: how often a referrer sends members nobody has had a
  goals-of-care conversation with (DOMAIN.md: the seeds' main complaint about referral).
- Conversion per source: how many referrals of each source (EHR, ACO, care manager, case-finding
  algorithm) reached an initial assessment, and how many ended enrolled.
Both count only the referrals the caller's organization may see (access.py); the plan sees all.
"""

from collections.abc import Sequence
from datetime import date
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from hearth_platform.auth import Principal

from .access import SEES_SQL, caller_params

SOURCES = ("ehr", "aco", "care_manager", "algorithm")
_RANGE = """
    (CAST(:referred_from AS date) IS NULL OR r.referral_date >= CAST(:referred_from AS date))
    AND (CAST(:referred_to AS date) IS NULL OR r.referral_date <= CAST(:referred_to AS date))
"""


def percent(part: int, whole: int) -> float | None:
    """A share in percent, rounded half-up to one decimal (a JSON number); none when there is
    nothing to share."""
    if whole == 0:
        return None
    return float((Decimal(100 * part) / Decimal(whole)).quantize(Decimal("0.1"), rounding=ROUND_HALF_UP))


async def goals_of_care_by_referrer(
    conn: AsyncConnection,
    caller: Principal,
    *,
    referrer_ids: Sequence[str] | None,
    referred_from: date | None,
    referred_to: date | None,
) -> list[dict[str, Any]]:
    rows = await conn.execute(
        text(
            f"""
            SELECT r.referrer_id,
                   count(*) AS referrals,
                   count(*) FILTER (WHERE r.goals_of_care_discussed IS NOT TRUE) AS without_goc,
                   count(*) FILTER (WHERE r.goals_of_care_discussed IS NULL) AS not_stated
            FROM referral.referrals r
            WHERE {_RANGE} AND {SEES_SQL}
              AND (CAST(:referrer_ids AS text[]) IS NULL OR r.referrer_id = ANY(CAST(:referrer_ids AS text[])))
            GROUP BY r.referrer_id
            ORDER BY r.referrer_id
            """
        ),
        {
            "referred_from": referred_from,
            "referred_to": referred_to,
            **caller_params(caller),
            "referrer_ids": list(referrer_ids) if referrer_ids else None,
        },
    )
    return [
        {
            "referrer_id": row.referrer_id,
            "referrals": row.referrals,
            "without_goals_of_care": row.without_goc,
            "of_which_not_stated": row.not_stated,
            "percent_without_goals_of_care": percent(row.without_goc, row.referrals),
        }
        for row in rows
    ]


async def conversion_by_source(
    conn: AsyncConnection, caller: Principal, *, referred_from: date | None, referred_to: date | None
) -> list[dict[str, Any]]:
    rows = await conn.execute(
        text(
            f"""
            SELECT r.source,
                   count(*) AS referrals,
                   count(*) FILTER (WHERE EXISTS (
                       SELECT 1 FROM referral.assessments a WHERE a.referral_id = r.referral_id
                   )) AS assessed,
                   count(*) FILTER (WHERE r.status = 'enrolled') AS enrolled
            FROM referral.referrals r
            WHERE {_RANGE} AND {SEES_SQL}
            GROUP BY r.source
            """
        ),
        {"referred_from": referred_from, "referred_to": referred_to, **caller_params(caller)},
    )
    found = {row.source: row for row in rows}
    report = []
    for source in SOURCES:
        row = found.get(source)
        referrals, assessed, enrolled = (row.referrals, row.assessed, row.enrolled) if row else (0, 0, 0)
        report.append(
            {
                "source": source,
                "referrals": referrals,
                "assessed": assessed,
                "enrolled": enrolled,
                "percent_assessed": percent(assessed, referrals),
                "percent_enrolled": percent(enrolled, referrals),
            }
        )
    return report
