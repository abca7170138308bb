"""What must hold after every fault, checked through the public APIs, the topics and the services'
own tables: every referral accounted for, each event's effect exactly once, invoices equal to the
driver's recomputation, dead letters holding exactly the injected poison."""

from __future__ import annotations

import asyncio
import time
from collections import defaultdict
from dataclasses import dataclass
from decimal import Decimal

import asyncpg
import httpx

from hearth_billing.handlers import handlers as billing_handlers
from hearth_eligibility.handlers import handlers as eligibility_handlers
from hearth_platform.cloudevents import Envelope
from hearth_platform.db import asyncpg_dsn
from hearth_platform.handlers import HandlerRegistry
from hearth_quality.handlers import handlers as quality_handlers
from hearth_referral.handlers import handlers as referral_handlers

from ..stack import Stack
from .driver import Driver, Load, Member
from .poison import Poison

REGISTRIES: dict[str, HandlerRegistry] = {
    "referral": referral_handlers,
    "eligibility": eligibility_handlers,
    "billing": billing_handlers,
    "quality": quality_handlers,
}
RECEIVED = "hearth.referral.ReferralReceived.v1"
ASSESSED = "hearth.referral.AssessmentCompleted.v1"
ENROLLED = "hearth.eligibility.MemberEnrolled.v1"
FEE = "hearth.billing.AssessmentFeeAccrued.v1"
CONSUMED_TOPICS = ("referral.events", "eligibility.events")


@dataclass(frozen=True)
class Settled:
    seconds: float


def _ids_by(stack: Stack, topic: str, event_type: str, key: str) -> dict[str, set[str]]:
    """Distinct event ids (ce_id) of one type per business key: a relay that published a row twice
    after a crash repeats its ce_id, which consumers deduplicate; a second ce_id is a second effect."""
    found: dict[str, set[str]] = defaultdict(set)
    for env in stack.events(topic, lambda e: e.type == event_type):
        value = env.data.get(key) if key != "subject" else env.subject
        if value is not None:
            found[str(value)].add(env.id)
    return found


async def _get_all(http: httpx.AsyncClient, urls: list[str], at_once: int = 16) -> list[httpx.Response]:
    """GET every URL, a few at a time (a full-size run checks over a thousand members)."""
    gate = asyncio.Semaphore(at_once)

    async def get(url: str) -> httpx.Response:
        async with gate:
            response = await http.get(url)
            assert response.status_code == 200, (url, response.status_code, response.text[:300])
            return response

    return await asyncio.gather(*(get(url) for url in urls))


async def settle(stack: Stack, http: httpx.AsyncClient, load: Load, timeout: float) -> Settled:
    """Wait until every effect the load should have is visible: fees and enrolments on the topics,
    each referral at its ending, billing's ledger with its fee and span."""
    started = time.monotonic()
    deadline = started + timeout
    pending: list[Member] = [m for m in load.members if m.assessed]
    while pending:
        fees = _ids_by(stack, "billing.events", FEE, "subject")
        enrolled = _ids_by(stack, "eligibility.events", ENROLLED, "subject")
        pending = [
            m for m in pending if m.member_id not in fees or (m.enrols and m.member_id not in enrolled)
        ]
        if pending and time.monotonic() > deadline:
            raise AssertionError(
                f"{len(pending)} member(s) without their fee or enrolment after {timeout:.0f}s, "
                f"e.g. {pending[0]}"
            )
        if pending:
            await asyncio.sleep(0.5)
    ending = {"enrol": "enrolled", "decline": "declined"}
    for m in load.members:
        if m.route == "topics":
            continue
        while True:
            view = await http.get(f"{stack.url('referral')}/referrals/{m.referral_id}")
            if view.status_code == 200 and view.json()["status"] == ending[m.decision]:
                break
            if time.monotonic() > deadline:
                raise AssertionError(f"referral of {m} is {view.status_code} {view.text[:300]}")
            await asyncio.sleep(0.5)
    return Settled(time.monotonic() - started)


async def assert_every_referral_accounted_for(stack: Stack, driver: Driver, http: httpx.AsyncClient) -> None:
    """Each accepted referral exists once, at the ending its member's decision leads to; nobody
    the driver referred has a second referral; each was announced by one ReferralReceived."""
    members = [m for m in driver.members if m.route != "topics"]
    assert all(m.referral_accepted and m.referral_id for m in members)
    conn = await asyncpg.connect(asyncpg_dsn(stack.infra.database_url))
    try:
        rows = await conn.fetch(
            "SELECT member_id, referral_id, status FROM referral.referrals WHERE member_id = ANY($1)",
            [m.member_id for m in members],
        )
    finally:
        await conn.close()
    by_member: dict[str, list[tuple[str, str]]] = defaultdict(list)
    for row in rows:
        by_member[row["member_id"]].append((row["referral_id"], row["status"]))
    ending = {"enrol": "enrolled", "decline": "declined"}
    wrong = {
        m.member_id: by_member.get(m.member_id)
        for m in members
        if by_member.get(m.member_id) != [(m.referral_id, ending[m.decision])]
    }
    assert wrong == {}, f"referrals not exactly once at their ending: {wrong}"
    received = _ids_by(stack, "referral.events", RECEIVED, "referral_id")
    announced = {m.member_id: len(received.get(m.referral_id or "", ())) for m in driver.members}
    assert set(announced.values()) == {1}, {k: v for k, v in announced.items() if v != 1}


async def assert_each_effect_once(stack: Stack, driver: Driver, http: httpx.AsyncClient) -> None:
    """One AssessmentCompleted per referral, one MemberEnrolled per enrolling member (none for the
    others), one fee each and one billing span per enrolment, the visits the driver was answered
    for, and every consumed event of the driver's members in each consumer's inbox once."""
    members = driver.members
    assessed = _ids_by(stack, "referral.events", ASSESSED, "referral_id")
    enrolled = _ids_by(stack, "eligibility.events", ENROLLED, "subject")
    fees = _ids_by(stack, "billing.events", FEE, "subject")
    counts = {
        m.member_id: (
            len(assessed.get(m.referral_id or "", ())),
            len(enrolled.get(m.member_id, ())),
            len(fees.get(m.member_id, ())),
        )
        for m in members
    }
    wrong = {
        m.member_id: counts[m.member_id] for m in members if counts[m.member_id] != (1, int(m.enrols), 1)
    }
    assert wrong == {}, f"(assessments, enrolments, fees) per member, expected (1, 0|1, 1): {wrong}"

    ledgers = await _get_all(http, [f"{stack.url('billing')}/members/{m.member_id}/ledger" for m in members])
    wrong_ledgers = {}
    for m, ledger in zip(members, ledgers, strict=True):
        body = ledger.json()
        fee_amounts = [Decimal(f["amount"]) for f in body["assessment_fees"]]
        spans = [(s["tier"], s["from"], s["to"]) for s in body["enrolment_spans"]]
        expected_spans = [("moderate", m.assessed_on.isoformat(), None)] if m.enrols else []
        if fee_amounts != [Decimal("325.00")] or spans != expected_spans:
            wrong_ledgers[m.member_id] = (fee_amounts, spans, expected_spans)
    assert wrong_ledgers == {}, f"billing ledgers: {wrong_ledgers}"

    conn = await asyncpg.connect(asyncpg_dsn(stack.infra.database_url))
    try:
        visits = dict(
            await conn.fetch(
                "SELECT member_id, count(*) FROM quality.visits WHERE member_id = ANY($1) GROUP BY 1",
                [m.member_id for m in members],
            )
        )
        wrong_visits = {
            m.member_id: visits.get(m.member_id, 0)
            for m in members
            if not m.visits_accepted <= visits.get(m.member_id, 0) <= m.visits_accepted + m.visits_ambiguous
        }
        assert wrong_visits == {}, f"visits recorded outside [accepted, accepted + ambiguous]: {wrong_visits}"
        await _assert_eligibility_rows(conn, members)
        await _assert_inboxes(stack, conn, {m.member_id for m in members})
    finally:
        await conn.close()


async def _assert_eligibility_rows(conn: asyncpg.Connection, members: list[Member]) -> None:
    """Eligibility holds one coverage span per member (a retried POST answered 409, not a second
    span), one coverage decision per referral, and one enrolment per enrolling member."""
    ids = [m.member_id for m in members]
    counts: dict[str, list[int]] = {m: [0, 0, 0] for m in ids}
    queries = (
        "SELECT member_id, count(*) FROM eligibility.coverage_spans WHERE member_id = ANY($1) GROUP BY 1",
        "SELECT member_id, count(*) FROM eligibility.determinations "
        "WHERE member_id = ANY($1) AND stage = 'coverage' GROUP BY 1",
        "SELECT member_id, count(*) FROM eligibility.enrolments WHERE member_id = ANY($1) GROUP BY 1",
    )
    for column, query in enumerate(queries):
        for member_id, count in await conn.fetch(query, ids):
            counts[member_id][column] = count
    wrong = {
        m.member_id: counts[m.member_id] for m in members if counts[m.member_id] != [1, 1, int(m.enrols)]
    }
    assert wrong == {}, f"(coverage spans, coverage decisions, enrolments), expected [1, 1, 0|1]: {wrong}"


async def _assert_inboxes(stack: Stack, conn: asyncpg.Connection, subjects: set[str]) -> None:
    """Every event about the driver's members that a service handles is in its inbox exactly once
    (the primary key forbids twice; absent would mean lost), and none is left parked."""
    for service, registry in REGISTRIES.items():
        expected: set[tuple[str, str]] = set()
        for topic in registry.topics:
            if topic not in CONSUMED_TOPICS:
                continue
            envelopes: list[Envelope] = stack.events(
                topic, lambda e, r=registry: e.subject in subjects and r.get(e.type) is not None
            )
            expected |= {(e.source, e.id) for e in envelopes}
        rows = await conn.fetch(
            f"SELECT event_source, event_id FROM {service}.inbox "
            "WHERE consumer_group = $1 AND event_id = ANY($2)",
            f"hearth-{service}",
            [i for _, i in expected],
        )
        found = {(r["event_source"], r["event_id"]) for r in rows}
        assert found == expected, f"{service} inbox: missing {len(expected - found)} of {len(expected)}"
        parked = await conn.fetchval(
            f"SELECT count(*) FROM {service}.parked_events WHERE subject = ANY($1)", list(subjects)
        )
        assert parked == 0, f"{service}: {parked} event(s) of the driver's members still parked"


async def close_and_assert_invoices(
    stack: Stack, driver: Driver, http: httpx.AsyncClient, load: Load
) -> None:
    """Close every month up to the load's, in order (closing a closed month answers 200), then the
    load organization's invoice must equal the driver's recomputation line for line."""
    for month in driver.months():
        if month > load.month:
            break
        closed = await http.post(f"{stack.url('billing')}/months/{month}/close")
        assert closed.status_code in (200, 201), closed.text
    listed = await http.get(
        f"{stack.url('billing')}/invoices", params={"month": load.month, "provider_org_id": load.org}
    )
    assert listed.status_code == 200, listed.text
    assert len(listed.json()) == 1, listed.text
    invoice = (await http.get(f"{stack.url('billing')}/invoices/{listed.json()[0]['invoice_id']}")).json()
    lines = sorted((line["member_id"], line["kind"], Decimal(line["amount"])) for line in invoice["lines"])
    expected = driver.expected_lines(load.org, load.month)
    assert lines == expected, {
        "unexpected": set(lines) - set(expected),
        "missing": set(expected) - set(lines),
    }
    assert Decimal(invoice["total_amount"]) == sum((amount for _, _, amount in expected), Decimal(0))


async def assert_dead_letters_exactly(stack: Stack, poison: list[Poison], timeout: float) -> None:
    """Each `<service>.dlq` holds the injected poison of the topics it consumes (undecodable bytes
    for every consumer, a schema failure for those handling the type), by origin offset, each with
    a reason of its kind; nothing else."""
    expected: dict[str, dict[tuple[str, int, int], Poison]] = {}
    for service, registry in REGISTRIES.items():
        expected[service] = {
            p.origin: p
            for p in poison
            if p.topic in registry.topics and (p.kind == "undecodable" or registry.get(p.ce_type or ""))
        }
    deadline = time.monotonic() + timeout
    while True:
        found = {
            service: {
                (
                    r.headers["hearth_dlq_topic"],
                    int(r.headers["hearth_dlq_partition"]),
                    int(r.headers["hearth_dlq_offset"]),
                ): r
                for r in stack.records
                if r.topic == f"{service}.dlq"
            }
            for service in REGISTRIES
        }
        if all(set(found[s]) >= set(expected[s]) for s in REGISTRIES) or time.monotonic() > deadline:
            break
        await asyncio.sleep(0.5)
    await asyncio.sleep(1.0)  # anything more that was on its way arrives now
    for service in REGISTRIES:
        records = [r for r in stack.records if r.topic == f"{service}.dlq"]
        origins = [
            (
                r.headers["hearth_dlq_topic"],
                int(r.headers["hearth_dlq_partition"]),
                int(r.headers["hearth_dlq_offset"]),
            )
            for r in records
        ]
        assert len(origins) == len(set(origins)), f"{service}.dlq holds a poison twice: {origins}"
        assert set(origins) == set(expected[service]), (
            f"{service}.dlq: extra {[(o, records[origins.index(o)].headers.get('hearth_dlq_reason')) for o in set(origins) - set(expected[service])]}, "
            f"missing {sorted(set(expected[service]) - set(origins))}"
        )
        for record, origin in zip(records, origins, strict=True):
            p = expected[service][origin]
            assert record.headers["hearth_dlq_kind"] == p.kind, (service, origin, record.headers)
            assert record.headers["hearth_dlq_reason"], (service, origin)
            assert record.value == p.value and record.key == p.key
            if p.ce_id is not None:
                assert record.headers["ce_id"] == p.ce_id
