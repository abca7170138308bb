"""The open caseloads Postgres keeps per coordinator (`referral.caseload_changes`, written by
triggers on `referrals`) against a plain count of open referrals, through every status and a
change of coordinator: the triggers name the open statuses themselves, so a status added to or
taken from `domain.OPEN` without a migration fails here."""

from datetime import UTC, date, datetime

import asyncpg

from hearth_platform.db import asyncpg_dsn
from hearth_platform.migrations import upgrade
from hearth_referral.app import definition as referral
from hearth_referral.domain import OPEN, Status

from .stack import Stack

_KEPT = "SELECT coordinator_id, sum(change)::int FROM referral.caseload_changes GROUP BY 1 HAVING sum(change) <> 0"
_COUNTED = """SELECT coordinator_id, count(*)::int FROM referral.referrals
              WHERE coordinator_id IS NOT NULL AND status = ANY($1::text[]) GROUP BY 1"""


async def test_kept_caseloads_equal_a_count_of_open_referrals_through_every_status(stack: Stack):
    database = await stack.isolated_database()
    await upgrade(database, referral.schema, referral.migrations)
    conn = await asyncpg.connect(asyncpg_dsn(database))
    open_statuses = [s.value for s in OPEN]

    async def kept_equals_counted() -> dict[str, int]:
        kept = dict(await conn.fetch(_KEPT))
        assert kept == dict(await conn.fetch(_COUNTED, open_statuses))
        return kept

    try:
        await conn.executemany(
            "INSERT INTO referral.referrals (referral_id, member_id, source, referrer_id, referral_date,"
            " received_at, status, coordinator_id) VALUES ($1, $2, 'aco', 'aco-1', $3, $4, 'received', $5)",
            [
                (f"r-{n}", f"m-{n}", date(2026, 11, 2), datetime.now(UTC), "c-a" if n % 2 else "c-b")
                for n in range(6)
            ],
        )
        assert await kept_equals_counted() == {"c-a": 3, "c-b": 3}
        for status in Status:
            await conn.execute(
                "UPDATE referral.referrals SET status = $1 WHERE referral_id = 'r-1'", status.value
            )
            kept = await kept_equals_counted()
            assert kept["c-a"] == (3 if status in OPEN else 2), status
        await conn.execute("UPDATE referral.referrals SET status = 'triaged' WHERE referral_id = 'r-1'")
        await conn.execute("UPDATE referral.referrals SET coordinator_id = 'c-b' WHERE referral_id = 'r-1'")
        await conn.execute("UPDATE referral.referrals SET coordinator_id = NULL WHERE referral_id = 'r-3'")
        assert await kept_equals_counted() == {"c-a": 1, "c-b": 4}
    finally:
        await conn.close()
