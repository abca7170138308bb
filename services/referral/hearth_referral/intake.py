"""Receiving referrals, set-based: every way in (`POST /referrals` coalesced, a referral list,
FHIR ServiceRequests, case-finding) hands a batch of `ReceiveReferral` commands to one statement
(intake_sql.py). A referral list is COPYed into a temporary table first; the other batches travel
as one JSON document."""

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

import orjson
from pydantic import TypeAdapter
from sqlalchemy import text
from sqlalchemy.dialects.postgresql.asyncpg import dialect as asyncpg_dialect

from hearth_platform.cloudevents import ce_headers
from hearth_platform.db import TraceContext, UnitOfWork, json_rows
from hearth_platform.errors import Conflict
from hearth_platform.ids import new_id
from hearth_schemas import ClaimEvidence, ReferralReceived

from .domain import Referral, Status
from .intake_sql import (
    ANSWER_COUNTS,
    ANSWER_ROWS,
    ASSIGNED_BY,
    EVENT_TOPIC,
    EVENT_TYPE,
    FROM_JSON,
    OPEN_STATUSES,
    STAGED_COLUMNS,
    intake_statement,
)


@dataclass(frozen=True)
class ReceiveReferral:
    member_id: str
    source: str
    referrer_id: str
    referral_date: date
    provider_org_id: str | None
    goals_of_care_discussed: bool | None
    actor: str
    idempotency_key: str | None = None
    trace: TraceContext | None = None
    # The organization whose client referred (none for case-finding): it keeps seeing the referral.
    referrer_org_id: str | None = None
    # Case-finding's candidates carry why: the leading condition group, the claims, the rule set.
    condition_group: str | None = None
    evidence: tuple[ClaimEvidence, ...] | None = None
    rule_set_version: str | None = None


@dataclass(frozen=True)
class Intake:
    referral: Referral
    created: bool


@dataclass(frozen=True)
class ListIntake:
    created: int
    linked: int


class ReferredConcurrently(Conflict):
    """Another transaction created an open referral for the same member while this batch ran;
    sent again, the referral links to it."""

    def __init__(self) -> None:
        super().__init__("another request referred the same member at the same moment; send it again")


_JSON_ROWS = text(intake_statement(FROM_JSON, ANSWER_ROWS))
_POSTED_COMPILED = _JSON_ROWS.compile(dialect=asyncpg_dialect())
_POSTED, _POSTED_PARAMS = _POSTED_COMPILED.string, list(_POSTED_COMPILED.positiontup or ())
_STAGED_ROWS = text(intake_statement("referral_intake", ANSWER_COUNTS))
_CREATE_STAGING = text(
    "CREATE TEMP TABLE referral_intake ("
    + ", ".join(f"{name} {kind}" for name, kind in STAGED_COLUMNS)
    + ") ON COMMIT DROP"
)
_ANALYZE_STAGING = text("ANALYZE referral_intake")
_DATETIME = TypeAdapter(datetime)


def statement_params(at: datetime) -> dict[str, Any]:
    """The statement's parameters besides the batch: the moment, and what every event shares."""
    headers = ce_headers(
        id="",
        source="/hearth/referral",
        type=EVENT_TYPE,
        time=at,
        subject="",
        dataschema=ReferralReceived.dataschema(),
        correlation_id=None,
        causation_id=None,
        traceparent=None,
    )
    return {
        "at": at,
        "received_at": _DATETIME.dump_python(at, mode="json"),
        "open": OPEN_STATUSES,
        "assigned_by": ASSIGNED_BY,
        "event_type": EVENT_TYPE,
        "topic": EVENT_TOPIC,
        "headers": orjson.dumps(headers).decode(),
    }


def _extra(cmd: ReceiveReferral) -> dict[str, Any] | None:
    """Case-finding's fields of the event, serialized by its contract."""
    if cmd.condition_group is None and cmd.evidence is None and cmd.rule_set_version is None:
        return None
    extra: dict[str, Any] = {}
    if cmd.condition_group is not None:
        extra["condition_group"] = cmd.condition_group
    if cmd.evidence is not None:
        extra["evidence"] = [e.model_dump(mode="json", exclude_none=True) for e in cmd.evidence]
    if cmd.rule_set_version is not None:
        extra["rule_set_version"] = cmd.rule_set_version
    return extra


def json_row(n: int, cmd: ReceiveReferral) -> dict[str, Any]:
    trace = cmd.trace or TraceContext()
    return {
        "n": n,
        "referral_id": new_id(),
        "event_id": new_id(),
        "member_id": cmd.member_id,
        "source": cmd.source,
        "referrer_id": cmd.referrer_id,
        "referral_date": cmd.referral_date.isoformat(),
        "provider_org_id": cmd.provider_org_id,
        "goals_of_care_discussed": cmd.goals_of_care_discussed,
        "idempotency_key": cmd.idempotency_key,
        "actor": cmd.actor,
        "referrer_org_id": cmd.referrer_org_id,
        "correlation_id": trace.correlation_id,
        "causation_id": trace.causation_id,
        "traceparent": trace.traceparent,
        "extra": _extra(cmd),
    }


def intakes_of(rows: Sequence[Mapping[str, Any]]) -> list[Intake]:
    """The answer rows as intakes, in command order; a member referred concurrently fails the
    batch (nothing of it is kept), so the caller sends it again."""
    if any(row["referral_id"] is None for row in rows):
        raise ReferredConcurrently()
    return [
        Intake(
            Referral(
                referral_id=row["referral_id"],
                member_id=row["member_id"],
                source=row["source"],
                referrer_id=row["referrer_id"],
                referral_date=row["referral_date"],
                received_at=row["received_at"],
                provider_org_id=row["provider_org_id"],
                goals_of_care_discussed=row["goals_of_care_discussed"],
                status=Status(row["status"]),
            ),
            created=row["created"],
        )
        for row in rows
    ]


async def receive_referrals(uow: UnitOfWork, commands: Sequence[ReceiveReferral]) -> list[Intake]:
    """Set-based intake inside the caller's transaction: a retried Idempotency-Key returns the
    referral it created, and a member who already has an open referral is linked to it, not
    referred twice, also within one batch."""
    if not commands:
        return []
    params = statement_params(datetime.now(UTC))
    params["rows"] = json_rows([json_row(n, c) for n, c in enumerate(commands)])
    rows = (await uow.conn.execute(_JSON_ROWS, params)).mappings().all()
    return intakes_of(rows)


async def receive_posted(uow: UnitOfWork, commands: Sequence[ReceiveReferral]) -> list[Intake]:
    """`receive_referrals` for a batch that is a transaction of its own (coalesced
    `POST /referrals`, nothing else in `uow`): the one statement runs outside an explicit
    transaction, which Postgres makes atomic by itself, so the batch costs ONE round trip instead
    of BEGIN, statement, COMMIT. A member another process referred at the same moment is received
    again alone (it links to that referral)."""
    raw = (await uow.conn.get_raw_connection()).driver_connection
    assert raw is not None
    params = statement_params(datetime.now(UTC))
    params["rows"] = json_rows([json_row(n, c) for n, c in enumerate(commands)])
    rows: list[Any] = await raw.fetch(_POSTED, *(params[name] for name in _POSTED_PARAMS))
    missing = [n for n, row in enumerate(rows) if row["referral_id"] is None]
    if missing:
        params["rows"] = json_rows([json_row(n, commands[n]) for n in missing])
        for row in await raw.fetch(_POSTED, *(params[name] for name in _POSTED_PARAMS)):
            rows[row["n"]] = row
    return intakes_of(rows)


async def receive_list(
    uow: UnitOfWork, lines: Sequence[tuple[int, Any]], *, referrer_org_id: str, trace: TraceContext
) -> ListIntake:
    """A referral list (line number, validated `ReferralIn`): COPYed into a temporary table, then
    the one intake statement, in the caller's transaction."""
    await uow.conn.execute(_CREATE_STAGING)
    if lines:
        records = [
            (
                number,
                new_id(),
                new_id(),
                r.member_id,
                r.source,
                r.referrer_id,
                r.referral_date,
                r.provider_org_id,
                r.goals_of_care_discussed,
                None,
                r.referrer_id,
                referrer_org_id,
                trace.correlation_id,
                trace.causation_id,
                trace.traceparent,
                None,
            )
            for number, r in lines
        ]
        raw = await uow.conn.get_raw_connection()
        await raw.driver_connection.copy_records_to_table(  # type: ignore[union-attr]
            "referral_intake", records=records, columns=[name for name, _ in STAGED_COLUMNS]
        )
        # Without statistics the planner takes the list for 1,000-odd rows per join and hashes
        # the new referrals as if they were millions (seconds instead of milliseconds).
        await uow.conn.execute(_ANALYZE_STAGING)
    params = statement_params(datetime.now(UTC))
    counts = (await uow.conn.execute(_STAGED_ROWS, params)).one()
    if counts.unresolved:
        raise ReferredConcurrently()
    return ListIntake(created=counts.created, linked=counts.linked)


_CLAIM_KEY = text(
    "INSERT INTO referral.referral_imports (idempotency_key, imported_at) VALUES (:key, now()) "
    "ON CONFLICT DO NOTHING RETURNING idempotency_key"
)
_KEEP_ANSWER = text(
    "UPDATE referral.referral_imports SET answer = CAST(:answer AS jsonb) WHERE idempotency_key = :key"
)
_ANSWER = text("SELECT answer FROM referral.referral_imports WHERE idempotency_key = :key")


async def claim_list_key(uow: UnitOfWork, key: str) -> bool:
    """True when no list was imported with `key` before; a concurrent import with the same key
    waits here until the first one commits (then False) or rolls back (then True)."""
    return (await uow.conn.execute(_CLAIM_KEY, {"key": key})).first() is not None


async def keep_list_answer(uow: UnitOfWork, key: str, answer: dict[str, Any]) -> None:
    await uow.conn.execute(_KEEP_ANSWER, {"key": key, "answer": orjson.dumps(answer).decode()})


async def list_answer(uow: UnitOfWork, key: str) -> dict[str, Any]:
    return (await uow.conn.execute(_ANSWER, {"key": key})).scalar_one()  # type: ignore[no-any-return]
