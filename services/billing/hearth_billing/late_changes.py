"""Recording what arrives late: enrolment changes effective in a closed month, and quality scores.

Both are applied by the next close (close_adjustments.py), never by rewriting a closed invoice.
An enrolment handler takes the close lock in shared mode, so a change either commits before a
close starts (the close sees it in the spans) or is recorded as late after that close commits
(the month is then closed): no change falls between the two.
"""

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from hearth_platform.db import json_rows
from hearth_schemas import PerformanceScored

from .periods import Month
from .tables import metadata

S = metadata.schema
# The key the close takes exclusively (close_repository.CLOSE_LOCK).
CLOSE_LOCK = 0x6842_0002


@dataclass(frozen=True)
class LateChange:
    member_id: str
    effective_date: date
    reason: str
    event_id: str


def score_months(period: str) -> tuple[str, str]:
    """The first and last month of a score's period ("2026-10" or "2026-Q4")."""
    if "Q" not in period:
        return period, period
    year, quarter = int(period[:4]), int(period[-1])
    return str(Month(year, 3 * quarter - 2)), str(Month(year, 3 * quarter))


class LateChangeRepository:
    def __init__(self, conn: AsyncConnection) -> None:
        self.conn = conn

    async def hold_off_closes(self) -> None:
        await self.conn.execute(text("SELECT pg_advisory_xact_lock_shared(:key)"), {"key": CLOSE_LOCK})

    async def last_closed_month(self) -> Month | None:
        month = (await self.conn.execute(text(f'SELECT max(month) FROM "{S}".months'))).scalar()
        return None if month is None else Month.parse(month)

    async def record(self, changes: Iterable[LateChange]) -> int:
        """Keep the changes effective on or before the last closed day; returns how many."""
        changes = list(changes)
        if not changes:
            return 0
        await self.hold_off_closes()
        last = await self.last_closed_month()
        late = [c for c in changes if last is not None and c.effective_date <= last.last_day]
        if late:
            rows = [
                {
                    "member_id": c.member_id,
                    "from_month": str(Month.of(c.effective_date)),
                    "reason": c.reason,
                    "event_id": c.event_id,
                }
                for c in late
            ]
            await self.conn.execute(_RECORD, {"rows": json_rows(rows)})
        return len(late)

    async def store_scores(self, scores: Sequence[tuple[str, PerformanceScored]]) -> None:
        """The latest run per organization, measure and period; a score already applied by a
        close stays as applied (a later run of an applied period changes no money)."""
        latest: dict[tuple[str, str, str], tuple[str, PerformanceScored]] = {}
        for event_id, s in scores:
            key = (s.provider_org_id, s.measure_id, s.period)
            if key not in latest or (s.run or 0) >= (latest[key][1].run or 0):
                latest[key] = (event_id, s)
        rows = []
        for event_id, s in latest.values():
            first, last = score_months(s.period)
            rows.append(
                {
                    "provider_org_id": s.provider_org_id,
                    "measure_id": s.measure_id,
                    "period": s.period,
                    "score_id": s.score_id,
                    "measure_version": s.measure_version,
                    "first_month": first,
                    "last_month": last,
                    "numerator": s.numerator,
                    "denominator": s.denominator,
                    "rate": None if s.rate is None else str(s.rate),
                    "reported": s.reported,
                    "run": s.run,
                    "event_id": event_id,
                }
            )
        if rows:
            await self.conn.execute(_STORE_SCORES, {"rows": json_rows(rows)})


_RECORD = text(f"""
INSERT INTO "{S}".late_changes (member_id, from_month, reason, event_id)
SELECT member_id, from_month, reason, event_id
FROM jsonb_to_recordset(CAST(:rows AS jsonb))
     AS c(member_id text, from_month text, reason text, event_id text)
""")

_STORE_SCORES = text(f"""
INSERT INTO "{S}".performance_scores
    (provider_org_id, measure_id, period, score_id, measure_version, first_month, last_month,
     numerator, denominator, rate, reported, run, event_id)
SELECT provider_org_id, measure_id, period, score_id, measure_version, first_month, last_month,
       numerator, denominator, rate, reported, run, event_id
FROM jsonb_to_recordset(CAST(:rows AS jsonb))
     AS s(provider_org_id text, measure_id text, period text, score_id text, measure_version text,
          first_month text, last_month text, numerator integer, denominator integer, rate numeric,
          reported boolean, run integer, event_id text)
ON CONFLICT (provider_org_id, measure_id, period) DO UPDATE
SET score_id = excluded.score_id, measure_version = excluded.measure_version,
    numerator = excluded.numerator, denominator = excluded.denominator, rate = excluded.rate,
    reported = excluded.reported, run = excluded.run, event_id = excluded.event_id,
    received_at = now()
WHERE "{S}".performance_scores.applied_month IS NULL
  AND COALESCE(excluded.run, 0) >= COALESCE("{S}".performance_scores.run, 0)
""")
