"""Receiving referrals, set-based: every way in (`POST /referrals` coalesced, a referral list,
FHIR ServiceRequests, case-finding) hands a batch of `ReceiveReferral` commands to one statement
(intake_sql.py). A referral list is COPYed into a temporary table first; the other batches travel
as one JSON document."""

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from hashlib import md5
from typing import Any

import orjson
from pydantic import TypeAdapter
from sqlalchemy import text
from sqlalchemy.dialects.postgresql.asyncpg import dialect as asyncpg_dialect
from sqlalchemy.exc import IntegrityError

from hearth_platform.cloudevents import ce_headers
from hearth_platform.db import TraceContext, UnitOfWork, json_rows
from hearth_platform.errors import Conflict
from hearth_schemas import ClaimEvidence, ReferralReceived

from .bulk_import import collector_paused
from .domain import Referral, Status
from .intake_sql import (
    ANSWER_COUNTS,
    ANSWER_ROWS,
    ASSIGNED_BY,
    EVENT_TOPIC,
    EVENT_TYPE,
    FROM_JSON,
    STAGED_COLUMNS,
    intake_statement,
)
from .ordered_ids import new_ordered_ids


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
_STAGED_ROWS = text(intake_statement("referral_intake", ANSWER_COUNTS, skip_concurrent=False))
#: The index that refuses a second open referral for a member (tables.referrals).
_ONE_OPEN = "referrals_one_open_per_member"
_CREATE_STAGING = text(
    "CREATE TEMP TABLE referral_intake ("
    + ", ".join(f"{name} {kind}" for name, kind in STAGED_COLUMNS)
    + ") ON COMMIT DROP"
)
# Statistics of the columns the statement joins or filters on only: the event text is most of a
# line's bytes and sampling it doubled the ANALYZE.
_ANALYZE_STAGING = text(
    "ANALYZE referral_intake (n, member_id, idempotency_key, provider_org_id, referrer_org_id)"
)
# A list's batch carries each line's event text (~600 bytes): with Postgres' default 4 MB per
# sort or materialized CTE, a 5,000-line batch spilled to temporary files three times over.
_BATCH_WORK_MEM = text("SET LOCAL work_mem = '32MB'")
_DATETIME = TypeAdapter(datetime)


def statement_params(at: datetime) -> dict[str, Any]:
    """The statement's parameters besides the batch: the moment, and what every event shares."""
    return {"at": at, "assigned_by": ASSIGNED_BY, "event_type": EVENT_TYPE, "topic": EVENT_TOPIC}


class ReceivedEvents:
    """Each line's `ReferralReceived` written here as the JSON text the outbox keeps (payload and
    Kafka headers): orjson over a small dict costs the API process a few microseconds a line,
    where building the same JSON in the intake statement cost Postgres ~9 us a line (the
    import's bottleneck). The payload has the contract's field names and JSON forms
    (`ReferralReceived`), absent fields left out."""

    def __init__(self, at: datetime) -> None:
        self.received_at: str = _DATETIME.dump_python(at, mode="json")
        shared = ce_headers(
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
        # The headers every event of the batch shares, serialized once: each line's own
        # (id, subject, trace) are appended to them.
        del shared["ce_id"], shared["ce_subject"]
        self._shared_headers = orjson.dumps(shared)[:-1] + b","

    def texts(
        self,
        *,
        referral_id: str,
        event_id: str,
        member_id: str,
        source: str,
        referrer_id: str,
        referral_date: date,
        provider_org_id: str | None,
        goals_of_care_discussed: bool | None,
        trace: TraceContext,
        extra: dict[str, Any] | None = None,
    ) -> tuple[str, str]:
        """(payload, headers) of the event of a line that creates `referral_id`."""
        payload: dict[str, Any] = {
            "referral_id": referral_id,
            "member_id": member_id,
            "source": source,
            "referrer_id": referrer_id,
            "referral_date": referral_date,
            "received_at": self.received_at,
        }
        if provider_org_id is not None:
            payload["provider_org_id"] = provider_org_id
        if goals_of_care_discussed is not None:
            payload["goals_of_care_discussed"] = goals_of_care_discussed
        if extra:
            payload.update(extra)
        headers = {
            "ce_id": event_id,
            "ce_subject": member_id,
            "ce_correlationid": trace.correlation_id or event_id,
            # Without a caller's trace, a trace of its own derived from the ids (W3C format).
            "traceparent": trace.traceparent
            or f"00-{md5(event_id.encode()).hexdigest()}-{md5(referral_id.encode()).hexdigest()[:16]}-01",
        }
        if trace.causation_id is not None:
            headers["ce_causationid"] = trace.causation_id
        return orjson.dumps(payload).decode(), (self._shared_headers + orjson.dumps(headers)[1:]).decode()


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


def json_row(n: int, cmd: ReceiveReferral, events: ReceivedEvents, ids: Sequence[str]) -> dict[str, Any]:
    """Line `n` of a batch sent as JSON: `ids` holds two ids per line, the referral the line
    creates if it creates one and its event."""
    trace = cmd.trace or TraceContext()
    referral_id, event_id = ids[2 * n], ids[2 * n + 1]
    payload, headers = events.texts(
        referral_id=referral_id,
        event_id=event_id,
        member_id=cmd.member_id,
        source=cmd.source,
        referrer_id=cmd.referrer_id,
        referral_date=cmd.referral_date,
        provider_org_id=cmd.provider_org_id,
        goals_of_care_discussed=cmd.goals_of_care_discussed,
        trace=trace,
        extra=_extra(cmd),
    )
    return {
        "n": n,
        "referral_id": referral_id,
        "event_id": event_id,
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
        "payload": payload,
        "headers": headers,
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
    at = datetime.now(UTC)
    params, events = statement_params(at), ReceivedEvents(at)
    ids = new_ordered_ids(2 * len(commands))
    params["rows"] = json_rows([json_row(n, c, events, ids) for n, c in enumerate(commands)])
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
    at = datetime.now(UTC)
    params, events = statement_params(at), ReceivedEvents(at)
    ids = new_ordered_ids(2 * len(commands))
    params["rows"] = json_rows([json_row(n, c, events, ids) for n, c in enumerate(commands)])
    rows: list[Any] = await raw.fetch(_POSTED, *(params[name] for name in _POSTED_PARAMS))
    missing = [n for n, row in enumerate(rows) if row["referral_id"] is None]
    if missing:
        ids = new_ordered_ids(2 * len(commands))
        params["rows"] = json_rows([json_row(n, commands[n], events, ids) for n in missing])
        for row in await raw.fetch(_POSTED, *(params[name] for name in _POSTED_PARAMS)):
            rows[row["n"]] = row
    return intakes_of(rows)


async def receive_list(
    uow: UnitOfWork, lines: Sequence[tuple[int, Any]], *, referrer_org_id: str, trace: TraceContext
) -> ListIntake:
    """A referral list (line number, validated `ReferralIn`): COPYed into a temporary table, then
    the one intake statement, in the caller's transaction."""
    await uow.conn.execute(_CREATE_STAGING)
    await uow.conn.execute(_BATCH_WORK_MEM)
    at = datetime.now(UTC)
    if lines:
        with collector_paused():
            events = ReceivedEvents(at)
            records = []
            ids = new_ordered_ids(2 * len(lines))
            for (number, r), referral_id, event_id in zip(lines, ids[::2], ids[1::2], strict=True):
                payload, headers = events.texts(
                    referral_id=referral_id,
                    event_id=event_id,
                    member_id=r.member_id,
                    source=r.source,
                    referrer_id=r.referrer_id,
                    referral_date=r.referral_date,
                    provider_org_id=r.provider_org_id,
                    goals_of_care_discussed=r.goals_of_care_discussed,
                    trace=trace,
                )
                records.append(
                    (
                        number,
                        referral_id,
                        event_id,
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
                        payload,
                        headers,
                    )
                )
        raw = await uow.conn.get_raw_connection()
        await raw.driver_connection.copy_records_to_table(  # type: ignore[union-attr]
            "referral_intake", records=records, columns=[name for name, _ in STAGED_COLUMNS]
        )
        # Without statistics the planner takes the list for 1,000-odd rows per join and hashes
        # the new referrals as if they were millions (seconds instead of milliseconds).
        await uow.conn.execute(_ANALYZE_STAGING)
    params = statement_params(at)
    try:
        counts = (await uow.conn.execute(_STAGED_ROWS, params)).one()
    except IntegrityError as error:
        if getattr(error.orig.__cause__, "constraint_name", None) == _ONE_OPEN:
            raise ReferredConcurrently() from None
        raise
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
