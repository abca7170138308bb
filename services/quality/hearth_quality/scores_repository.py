"""The set-based measure engine: every measure of the catalogue scored for one period inside
Postgres, one statement per family of measures whatever the number of members (set_based.py
says how a measure names its SQL). Python only receives the aggregate rows, one per measure
and organization, and applies the suppression rules to them.
"""

from collections import defaultdict
from collections.abc import Iterable, Sequence
from datetime import date, timedelta
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from .domain import MeasureScore, Period, Scorable
from .ratio import RatioMeasure
from .set_based import ACTIVE, PREPARE, finish
from .sql_declaration import SqlDeclaration
from .sql_families import FAMILIES

Counts = tuple[int, int, int]


def declaration(measure: Scorable) -> SqlDeclaration:
    """The measure's SQL declaration; a catalogued measure without one cannot be scored here."""
    sql = getattr(measure, "sql", None)
    if not isinstance(sql, SqlDeclaration) or sql.family not in FAMILIES:
        raise ValueError(f"measure {measure.measure_id} names no known SQL family")
    return sql


def by_family(measures: Iterable[Scorable]) -> dict[str, list[Scorable]]:
    """The measures grouped by family, in catalogue order (one statement per family)."""
    grouped: dict[str, list[Scorable]] = defaultdict(list)
    for m in measures:
        grouped[declaration(m).family].append(m)
    return grouped


class SetBasedScores:
    """Scores a period's measures with one SQL statement per family."""

    def __init__(self, conn: AsyncConnection) -> None:
        self.conn = conn

    async def score(
        self, measures: Sequence[Scorable], period: Period, lookback_days: int
    ) -> list[MeasureScore]:
        """Every measure for every organization with members enrolled in the period (and, for a
        measure of decedents or referrals, every organization such a unit is attributed to),
        ordered by measure (catalogue order) then organization, as `score_all` orders them."""
        since = period.start - timedelta(days=min(lookback_days, (period.start - date.min).days))
        bounds: dict[str, Any] = {"period_start": period.start, "period_end": period.end, "since": since}
        for step in PREPARE:
            await self.conn.execute(text(step), bounds)
        orgs = await self.conn.execute(text(f"WITH {ACTIVE} SELECT DISTINCT provider_org_id FROM active"))
        active_orgs = {r.provider_org_id for r in orgs}
        counts: dict[str, dict[str, Counts]] = defaultdict(dict)
        for family, members in by_family(measures).items():
            statement = FAMILIES[family]([(m.measure_id, declaration(m).params) for m in members])
            rows = await self.conn.execute(text(statement.sql), {**bounds, **statement.binds})
            for measure_id, org, numerator, denominator, exclusions in rows:
                counts[measure_id][org] = (int(numerator), int(denominator), int(exclusions))
        scores = []
        for m in measures:
            kind = "ratio" if isinstance(m, RatioMeasure) else "proportion"
            mine = counts.get(m.measure_id, {})
            for org in sorted(active_orgs | mine.keys()):
                n, d, x = mine.get(org, (0, 0, 0))
                scores.append(
                    finish(kind, m.measure_id, m.version, m.minimum_denominator, period, org, n, d, x)
                )
        return scores
