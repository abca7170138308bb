"""SQL of measure runs and results (versioned: earlier runs are kept, only the latest is current)
and of the periods waiting for a recomputation after late facts."""

import zlib
from collections.abc import Iterable, Sequence
from datetime import date, datetime
from typing import Any

from sqlalchemy import func, select, text, update
from sqlalchemy.ext.asyncio import AsyncConnection

from .domain import MeasureResult, MeasureScore, Period
from .tables import measure_results, measure_runs, pending_recomputes


def _result(row: Any) -> MeasureResult:
    return MeasureResult(
        score_id=row.score_id,
        run=row.run,
        computed_at=row.computed_at,
        score=MeasureScore(
            measure_id=row.measure_id,
            measure_version=row.measure_version,
            provider_org_id=row.provider_org_id,
            period=row.period,
            numerator=row.numerator,
            denominator=row.denominator,
            rate=row.rate,
            reported=row.reported,
            exclusions=row.exclusions,
        ),
    )


class ResultRepository:
    """Measure runs and their results; earlier runs are kept, only the latest is current."""

    def __init__(self, conn: AsyncConnection) -> None:
        self.conn = conn

    async def lock_period(self, period: str) -> None:
        """Serialize runs of one period (a month close and an on-demand run at the same time)
        until the transaction ends, so run numbers and the current flag stay consistent."""
        await self.conn.execute(
            text("SELECT pg_advisory_xact_lock(:k)"),
            {"k": zlib.crc32(f"hearth-quality-run:{period}".encode())},
        )

    async def start_run(self, period: str, trigger: str, cause_event_id: str | None, at: datetime) -> int:
        last = (
            await self.conn.execute(
                select(func.coalesce(func.max(measure_runs.c.run), 0)).where(measure_runs.c.period == period)
            )
        ).scalar_one()
        run = int(last) + 1
        await self.conn.execute(
            measure_runs.insert().values(
                period=period, run=run, trigger=trigger, cause_event_id=cause_event_id, computed_at=at
            )
        )
        return run

    async def replace_current(self, period: str, results: Sequence[MeasureResult]) -> None:
        """The new run's results become current; every earlier result of the period is kept but
        no longer current (also those of an organization that has no result in the new run)."""
        await self.conn.execute(
            update(measure_results)
            .where(measure_results.c.period == period, measure_results.c.current)
            .values(current=False)
        )
        if results:
            await self.conn.execute(
                measure_results.insert(),
                [
                    {
                        "score_id": r.score_id,
                        "period": r.score.period,
                        "run": r.run,
                        "measure_id": r.score.measure_id,
                        "measure_version": r.score.measure_version,
                        "provider_org_id": r.score.provider_org_id,
                        "numerator": r.score.numerator,
                        "denominator": r.score.denominator,
                        "exclusions": r.score.exclusions,
                        "rate": r.score.rate,
                        "reported": r.score.reported,
                        "current": True,
                        "computed_at": r.computed_at,
                    }
                    for r in results
                ],
            )

    async def current(self, period: str, provider_org_id: str | None = None) -> list[MeasureResult]:
        query = select(measure_results).where(measure_results.c.period == period, measure_results.c.current)
        if provider_org_id is not None:
            query = query.where(measure_results.c.provider_org_id == provider_org_id)
        rows = await self.conn.execute(
            query.order_by(measure_results.c.measure_id, measure_results.c.provider_org_id)
        )
        return [_result(r) for r in rows]

    async def runs(self, period: str) -> list[tuple[int, str, datetime]]:
        """Every run of the period, oldest first: (run, trigger, computed_at)."""
        rows = await self.conn.execute(
            select(measure_runs.c.run, measure_runs.c.trigger, measure_runs.c.computed_at)
            .where(measure_runs.c.period == period)
            .order_by(measure_runs.c.run)
        )
        return [(r.run, r.trigger, r.computed_at) for r in rows]

    async def all_results(self, period: str, provider_org_id: str | None = None) -> list[MeasureResult]:
        """Every result of every run of the period, by run then measure and organization."""
        query = select(measure_results).where(measure_results.c.period == period)
        if provider_org_id is not None:
            query = query.where(measure_results.c.provider_org_id == provider_org_id)
        rows = await self.conn.execute(
            query.order_by(
                measure_results.c.run, measure_results.c.measure_id, measure_results.c.provider_org_id
            )
        )
        return [_result(r) for r in rows]


def affected_periods(days: Iterable[date]) -> set[str]:
    """The month and quarter labels of each day a late fact is dated on."""
    return {p.label for day in set(days) for p in Period.containing(day)}


class LateFactRepository:
    """Periods that already have results and received facts since: one row per period, however
    many facts arrive, so a burst of late facts becomes one recomputation."""

    def __init__(self, conn: AsyncConnection) -> None:
        self.conn = conn

    async def mark(self, days: Iterable[date], at: datetime) -> None:
        """Mark the computed months and quarters of these days (set-based; periods never
        computed are left alone: their first run will see the facts anyway)."""
        counts: dict[str, int] = {}
        for day in days:
            for p in Period.containing(day):
                counts[p.label] = counts.get(p.label, 0) + 1
        if not counts:
            return
        await self.conn.execute(
            text(
                """
                INSERT INTO quality.pending_recomputes (period, first_late_at, late_facts)
                SELECT l.period, :at, l.facts
                FROM unnest(CAST(:periods AS text[]), CAST(:facts AS integer[])) AS l(period, facts)
                WHERE EXISTS (SELECT 1 FROM quality.measure_runs r WHERE r.period = l.period)
                ON CONFLICT (period) DO UPDATE
                SET late_facts = pending_recomputes.late_facts + excluded.late_facts
                """
            ),
            {"at": at, "periods": list(counts), "facts": list(counts.values())},
        )

    async def take_settled(self, settled_before: datetime) -> tuple[str, int] | None:
        """Claim one period whose first late fact arrived before `settled_before` (skipping any
        another worker holds); the claim is undone if the transaction rolls back."""
        row = (
            await self.conn.execute(
                text(
                    """
                    DELETE FROM quality.pending_recomputes
                    WHERE period = (
                        SELECT period FROM quality.pending_recomputes
                        WHERE first_late_at <= :before
                        ORDER BY first_late_at, period
                        LIMIT 1 FOR UPDATE SKIP LOCKED)
                    RETURNING period, late_facts
                    """
                ),
                {"before": settled_before},
            )
        ).first()
        return None if row is None else (row.period, row.late_facts)

    async def pending(self) -> list[tuple[str, int]]:
        rows = await self.conn.execute(
            select(pending_recomputes.c.period, pending_recomputes.c.late_facts).order_by(
                pending_recomputes.c.period
            )
        )
        return [(r.period, r.late_facts) for r in rows]
