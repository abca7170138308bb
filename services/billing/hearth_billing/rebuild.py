"""Rebuilding billing from the topics: replaying them from the start gives the same invoices.

Why this design. Billing's state is a fold over two inputs: the facts it consumes (assessments,
enrolments, tier changes, disenrolments, scores) and the month closes it was asked to run, whose
outcomes are on billing.events (`MonthClosed` with its `closed_at`, `InvoiceIssued` with each
organization's invoice id). Replaying both in the order they happened, through the same handlers
and the same close, rebuilds the same ledger and issues the same invoices: a fact ordered before a
close is billed by it, a fact ordered after it becomes a late change and an adjustment on the next
close, exactly as the first time (the spans each close saw are numbered by close, so the rebuilt
invoices read their members back the same way), and the rebuild cannot drift from the live rules:
it runs them.

The order is the time each fact reached billing where billing.events records it, else the time the
fact happened (`ce_time`); ties keep the topics' order:
- an assessment whose fee was accrued: the time of its `AssessmentFeeAccrued` (whose
  `ce_causationid` names the assessment's event);
- a change named by an `AdjustmentPosted` (`cause_event_ids`): not before the close preceding the
  close that posted it (it reached billing after that close, or that close would have posted it);
- a close: its `closed_at`, re-run with the original's `closed_at` and invoice ids.
Consumer lag across a close is thereby reproduced for fees and for late changes that moved money;
any other fact is placed by its own time. The result is a pure function of the topics' content.

The topics are read once from the earliest offset to the end of the log (no consumer group,
nothing committed). An event delivered twice counts once (`ce_source` + `ce_id`);
one that cannot be decoded or validated is skipped and counted (the live consumer dead-lettered
it), as is one a handler refuses on its own; a change that arrives before the enrolment it changes
is parked and retried after each later run of its member and before each close, as the consumer
does. DME requests arrive over HTTP and are decided then; each decision is on billing.events
(`DmeRequestDecided`) and is kept again as decided, at its `requested_at`, so the rebuilt invoices
carry the same DME lines.

The target must be a fresh billing database: its closes stage their events in its own outbox,
which `python -m hearth_billing.rebuild` never relays, so a rebuild never announces a second
`MonthClosed`.
"""

import asyncio
import logging
import sys
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from aiokafka import AIOKafkaConsumer, TopicPartition
from pydantic import ValidationError

from hearth_platform.cloudevents import Envelope, UndecodableEvent, decode
from hearth_platform.consumer import is_infrastructure_fault
from hearth_platform.db import Database
from hearth_platform.errors import Conflict, HearthError
from hearth_platform.handlers import HandlerRegistry, Received
from hearth_schemas import (
    AdjustmentPosted,
    AssessmentFeeAccrued,
    DmeRequestDecided,
    InvoiceIssued,
    MonthClosed,
)

from .close import ClosedMonth
from .handlers import close_month, handlers, replay_dme_decision
from .late_changes import LateChangeRepository
from .periods import Month

log = logging.getLogger("hearth.billing.rebuild")
BILLING_SOURCE = "/hearth/billing"
# A run of one event type handed to a handler at once, as a consumer batch would be.
RUN = 500
AFTER = timedelta(microseconds=1)


@dataclass(frozen=True)
class RecordedClose:
    """A close as billing.events recorded it."""

    month: str
    closed_at: datetime
    invoice_ids: Mapping[str, str]


@dataclass(frozen=True)
class RecordedDme:
    """A DME decision as billing.events recorded it."""

    decided: DmeRequestDecided


Step = Received[Any] | RecordedClose | RecordedDme


@dataclass
class Timeline:
    steps: list[Step]
    duplicates: int = 0
    invalid: int = 0


@dataclass
class RebuildReport:
    events: int = 0
    duplicates: int = 0
    invalid: int = 0
    refused_event_ids: list[str] = field(default_factory=list)
    still_parked: int = 0
    dme_decisions: int = 0
    closed: list[ClosedMonth] = field(default_factory=list)
    refused_closes: list[tuple[str, str]] = field(default_factory=list)


def timeline(
    envelopes: Iterable[Envelope], registry: HandlerRegistry = handlers, source: str = BILLING_SOURCE
) -> Timeline:
    """The facts and closes of the log in the order billing met them (see the module docstring)."""
    seen: set[tuple[str, str]] = set()
    facts: list[Received[Any]] = []
    closes: dict[str, MonthClosed] = {}
    organization_of: dict[str, str] = {}
    accrued_at: dict[str, datetime] = {}
    posted: list[tuple[str, list[str]]] = []
    dme: list[DmeRequestDecided] = []
    result = Timeline([])
    for env in envelopes:
        if (env.source, env.id) in seen:
            result.duplicates += 1
            continue
        seen.add((env.source, env.id))
        try:
            if env.source == source:
                if env.type == MonthClosed.event_type():
                    closed = MonthClosed.model_validate(env.data)
                    closes.setdefault(closed.month, closed)
                elif env.type == InvoiceIssued.event_type():
                    issued = InvoiceIssued.model_validate(env.data)
                    organization_of[issued.invoice_id] = issued.provider_org_id
                elif env.type == AssessmentFeeAccrued.event_type() and env.causation_id:
                    accrued_at[env.causation_id] = env.time
                elif env.type == DmeRequestDecided.event_type():
                    dme.append(DmeRequestDecided.model_validate(env.data))
                elif env.type == AdjustmentPosted.event_type():
                    adjustment = AdjustmentPosted.model_validate(env.data)
                    posted.append((adjustment.posted_month, adjustment.cause_event_ids))
                continue
            handler = registry.get(env.type)
            if handler is not None:
                facts.append(Received(env, handler.event.model_validate(env.data)))
        except ValidationError:
            result.invalid += 1
    ordered = sorted(closes.values(), key=lambda c: c.closed_at)
    position = {c.month: n for n, c in enumerate(ordered)}
    not_before: dict[str, datetime] = {}
    for posted_month, causes in posted:
        if position.get(posted_month, 0) > 0:
            previous = ordered[position[posted_month] - 1].closed_at
            for cause in causes:
                not_before[cause] = max(not_before.get(cause, previous), previous)

    def reached(item: Received[Any]) -> datetime:
        at = accrued_at.get(item.envelope.id, item.envelope.time)
        floor = not_before.get(item.envelope.id)
        return at if floor is None or at > floor else floor + AFTER

    keyed: list[tuple[datetime, int, int, Step]] = [(reached(f), 0, n, f) for n, f in enumerate(facts)]
    keyed += [(d.requested_at, 0, len(facts) + n, RecordedDme(d)) for n, d in enumerate(dme)]
    keyed += [
        (
            c.closed_at,
            1,
            n,
            RecordedClose(
                c.month, c.closed_at, {organization_of[i]: i for i in c.invoice_ids if i in organization_of}
            ),
        )
        for n, c in enumerate(ordered)
    ]
    keyed.sort(key=lambda k: k[:3])
    result.steps = [step for *_, step in keyed]
    return result


async def read_log(
    bootstrap: str, topics: Sequence[str], quiet: float = 1.0, idle_timeout: float = 30
) -> tuple[list[Envelope], int]:
    """Every record of `topics` from the earliest offset to the end of the log, decoded, in topic,
    partition and offset order; and how many could not be decoded. The end is where the end
    offsets seen at the start are passed and a poll stays empty for `quiet` seconds (a broker may
    report an end offset short of the last batch it stored, so the offsets alone are not enough)."""
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap,
        group_id=None,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        max_partition_fetch_bytes=4_194_304,
    )
    records: list[tuple[str, int, int, Envelope]] = []
    undecodable = 0
    try:
        await consumer.start()
        await consumer.topics()
        partitions = [
            TopicPartition(topic, p)
            for topic in topics
            for p in sorted(consumer.partitions_for_topic(topic) or ())
        ]
        consumer.assign(partitions)
        await consumer.seek_to_beginning(*partitions)
        ends = await consumer.end_offsets(partitions)
        waited = 0.0
        while True:
            batch = await consumer.getmany(timeout_ms=int(quiet * 1000))
            for tp, rs in batch.items():
                for r in rs:
                    try:
                        records.append((tp.topic, tp.partition, r.offset, decode(r.key, r.value, r.headers)))
                    except UndecodableEvent:
                        undecodable += 1
            if batch:
                waited = 0.0
                continue
            if all([await consumer.position(tp) >= ends[tp] for tp in partitions]):
                break
            waited += quiet
            if waited >= idle_timeout:
                raise TimeoutError(f"the log stopped short of its end offsets for {idle_timeout}s")
    finally:
        await consumer.stop()
    records.sort(key=lambda r: r[:3])
    return [env for *_, env in records], undecodable


async def replay(db: Database, steps: Sequence[Step], registry: HandlerRegistry = handlers) -> RebuildReport:
    """Apply the timeline to a fresh billing database: runs of facts through the handlers, closes
    through `close_month` as recorded."""
    async with db.unit_of_work() as uow:
        if await LateChangeRepository(uow.conn).last_closed_month() is not None:
            raise Conflict("a rebuild needs a fresh billing database: this one has closed months")
    report = RebuildReport()
    parked: list[Received[Any]] = []
    for run in _runs(steps):
        if isinstance(run, RecordedDme):
            await replay_dme_decision(db, run.decided)
            report.dme_decisions += 1
            continue
        if isinstance(run, RecordedClose):
            parked = await _retry(db, registry, parked, None, report)
            try:
                report.closed.append(
                    await close_month(
                        db, Month.parse(run.month), closed_at=run.closed_at, invoice_ids=run.invoice_ids
                    )
                )
            except HearthError as exc:
                report.refused_closes.append((run.month, exc.message))
            continue
        report.events += len(run)
        parked += await _apply(db, registry, run, report)
        parked = await _retry(db, registry, parked, {r.envelope.subject for r in run}, report)
    report.still_parked = len(await _retry(db, registry, parked, None, report))
    return report


def _runs(steps: Sequence[Step]) -> Iterable[list[Received[Any]] | RecordedClose | RecordedDme]:
    run: list[Received[Any]] = []
    for step in steps:
        recorded = isinstance(step, (RecordedClose, RecordedDme))
        if recorded or (run and (step.envelope.type != run[0].envelope.type or len(run) >= RUN)):
            if run:
                yield run
                run = []
        if recorded:
            yield step
        else:
            run.append(step)
    if run:
        yield run


async def _apply(
    db: Database, registry: HandlerRegistry, run: list[Received[Any]], report: RebuildReport
) -> list[Received[Any]]:
    """One unit of work for the run; if it fails, event by event, and an event that fails on its
    own is counted as refused (the live consumer dead-lettered it). Returns what was parked."""
    handler = registry.get(run[0].envelope.type)
    assert handler is not None
    try:
        async with db.unit_of_work() as uow:
            waiting = await handler.fn(uow, run) or []
            await uow.commit()
        return list(waiting)
    except Exception as exc:
        if is_infrastructure_fault(exc):
            raise
        if len(run) == 1:
            report.refused_event_ids.append(run[0].envelope.id)
            return []
    waiting = []
    for item in run:
        waiting += await _apply(db, registry, [item], report)
    return waiting


async def _retry(
    db: Database,
    registry: HandlerRegistry,
    parked: list[Received[Any]],
    subjects: set[str] | None,
    report: RebuildReport,
) -> list[Received[Any]]:
    """Retry the parked events (of `subjects`, or all), one at a time, in arrival order."""
    still: list[Received[Any]] = []
    for item in parked:
        if subjects is not None and item.envelope.subject not in subjects:
            still.append(item)
        else:
            still += await _apply(db, registry, [item], report)
    return still


async def rebuild(db: Database, bootstrap: str) -> RebuildReport:
    """Read the topics billing consumes and billing.events, and replay them into `db`."""
    envelopes, undecodable = await read_log(bootstrap, (*handlers.topics, MonthClosed.topic()))
    planned = timeline(envelopes)
    log.info("replaying", extra={"steps": len(planned.steps), "duplicates": planned.duplicates})
    report = await replay(db, planned.steps)
    report.duplicates, report.invalid = planned.duplicates, planned.invalid + undecodable
    return report


async def _main() -> int:
    from hearth_platform.migrations import upgrade
    from hearth_platform.settings import Settings

    from .app import BillingSettings, definition
    from .handlers import load_contracts

    settings = Settings()
    await upgrade(settings.database_url, definition.schema, definition.migrations)
    db = Database(settings, "billing", definition.platform)
    try:
        await load_contracts(db, BillingSettings().contracts_dir)
        report = await rebuild(db, settings.kafka_bootstrap)
    finally:
        await db.dispose()
    print(
        f"replayed {report.events} event(s) ({report.duplicates} duplicate(s), {report.invalid} invalid, "
        f"{len(report.refused_event_ids)} refused, {report.still_parked} still parked); "
        f"kept {report.dme_decisions} DME decision(s); "
        f"re-closed {len(report.closed)} month(s), {len(report.refused_closes)} refused"
    )
    for month, reason in report.refused_closes:
        print(f"  {month}: {reason}", file=sys.stderr)
    return 1 if report.refused_closes else 0


if __name__ == "__main__":
    sys.exit(asyncio.run(_main()))
