"""The messaging guarantees of shared/platform, over the real broker and Postgres."""

import asyncio
import uuid
from datetime import UTC, date, datetime
from pathlib import Path

import asyncpg
import httpx
import orjson
import pytest

from hearth_billing import handlers as billing_handlers
from hearth_platform.cloudevents import encode, new_envelope
from hearth_platform.db import COPY_FROM_ROWS, Database, asyncpg_dsn
from hearth_platform.migrations import upgrade
from hearth_platform.settings import Settings
from hearth_referral.app import definition as referral
from hearth_schemas import AssessmentCompleted, AssessmentFeeAccrued, ReferralReceived

from .stack import Stack, metric
from .test_billing import assessed
from .test_billing_rules import billing_with_contracts

FEE_ACCRUED = AssessmentFeeAccrued.event_type()

RECEIVED = ReferralReceived.event_type()


def referral_received(
    member_id: str, referral_id: str | None = None, on: date = date(2026, 11, 2)
) -> ReferralReceived:
    return ReferralReceived(
        referral_id=referral_id or str(uuid.uuid4()),
        member_id=member_id,
        source="aco",
        referrer_id="aco-7",
        referral_date=on,
        received_at=datetime.now(UTC),
        provider_org_id="org-a",
        goals_of_care_discussed=True,
    )


def assessment_completed(member_id: str, referral_id: str) -> AssessmentCompleted:
    return AssessmentCompleted(
        assessment_id=str(uuid.uuid4()),
        referral_id=referral_id,
        member_id=member_id,
        provider_org_id="org-a",
        assessed_on=date(2026, 11, 9),
        mode="in_person",
        decision="enrol",
        age_years=78,
        primary_condition="chf",
        nyha_class=4,
        ejection_fraction=20,
        karnofsky=50,
        surrogate_identified=True,
    )


async def add_coverage(http: httpx.AsyncClient, stack: Stack, member_id: str) -> None:
    response = await http.post(
        f"{stack.url('eligibility')}/members/{member_id}/coverage",
        json={
            "plan_id": "plan-1",
            "line_of_business": "medi_cal",
            "market": "alameda",
            "provider_org_id": "org-a",
            "start_date": "2026-01-01",
        },
    )
    assert response.status_code in (200, 201), response.text


async def test_the_same_event_delivered_twice_has_one_effect(stack: Stack, http, member_id):
    await add_coverage(http, stack, member_id)
    env = new_envelope(referral_received(member_id), source="/test")
    duplicates_before = await metric(
        http, stack.url("eligibility"), "hearth_events_consumed_total", type=env.type, outcome="duplicate"
    )

    await stack.publish_envelope(env, "referral.events")
    await stack.publish_envelope(env, "referral.events")

    await stack.wait_for_event("eligibility.events", lambda e: e.subject == member_id)
    for _ in range(100):
        duplicates = await metric(
            http, stack.url("eligibility"), "hearth_events_consumed_total", type=env.type, outcome="duplicate"
        )
        if duplicates > duplicates_before:
            break
        await asyncio.sleep(0.1)
    assert duplicates == duplicates_before + 1
    determinations = stack.events(
        "eligibility.events", lambda e: e.subject == member_id and e.causation_id == env.id
    )
    assert len(determinations) == 1


async def test_an_undecodable_event_is_dead_lettered_with_its_reason_and_the_consumer_goes_on(
    stack: Stack, http, member_id
):
    await add_coverage(http, stack, member_id)
    poison_key = f"poison-{uuid.uuid4().hex}".encode()
    await stack.publish_raw("referral.events", poison_key, b"\x00not json", [("ce_specversion", b"1.0")])
    follower = await stack.publish(referral_received(member_id))

    dead = await stack.wait_for_records("eligibility.dlq", lambda r: r.key == poison_key)
    assert dead[0].value == b"\x00not json"
    assert (
        dead[0].headers["hearth_dlq_reason"]
        == "missing CloudEvents headers: ce_id, ce_source, ce_type, ce_time"
    )
    assert dead[0].headers["hearth_dlq_topic"] == "referral.events"
    assert dead[0].headers["hearth_dlq_group"] == "hearth-eligibility"
    # The consumer moved on: the next event was handled.
    await stack.wait_for_event("eligibility.events", lambda e: e.causation_id == follower.id)


async def test_an_event_that_fails_its_schema_is_dead_lettered_naming_the_field(
    stack: Stack, http, member_id
):
    env = new_envelope(referral_received(member_id), source="/test")
    key, _, headers = encode(env)
    await stack.publish_raw(
        "referral.events", key, b'{"member_id": "%s", "source": "fax"}' % member_id.encode(), headers
    )

    dead = await stack.wait_for_records("eligibility.dlq", lambda r: r.headers.get("ce_id") == env.id)
    reason = dead[0].headers["hearth_dlq_reason"]
    assert reason.startswith("schema validation failed:")
    assert "referral_id: Field required" in reason and "source: Input should be" in reason
    assert dead[0].headers["ce_type"] == "hearth.referral.ReferralReceived.v1"
    determinations = await http.get(f"{stack.url('eligibility')}/members/{member_id}/determinations")
    assert determinations.json() == []


async def test_an_assessment_that_arrives_before_its_referral_is_not_lost(stack: Stack, http, member_id):
    await add_coverage(http, stack, member_id)
    referral = referral_received(member_id)
    await stack.publish(assessment_completed(member_id, referral.referral_id))
    await asyncio.sleep(1.0)
    assert stack.events("eligibility.events", lambda e: e.subject == member_id) == []

    await stack.publish(referral)

    enrolled = await stack.wait_for_event(
        "eligibility.events",
        lambda e: e.subject == member_id and e.type == "hearth.eligibility.MemberEnrolled.v1",
    )
    assert enrolled.data["referral_id"] == referral.referral_id


async def test_a_service_killed_between_commit_and_publish_publishes_after_restart_once(
    stack: Stack, http, member_id
):
    database = await stack.isolated_database()
    # Without its relay the service commits the referral and its outbox row but publishes nothing:
    # the state a crash right after the commit leaves behind.
    crashed = stack.start("referral", port=_port(), database_url=database, HEARTH_RELAY_ENABLED="false")
    try:
        url = await _healthy_url(stack, crashed)
        response = await http.post(
            f"{url}/referrals",
            json={
                "member_id": member_id,
                "source": "aco",
                "referrer_id": "aco-7",
                "referral_date": "2026-11-03",
            },
        )
        assert response.status_code == 201
        referral_id = response.json()["referral_id"]
    finally:
        stack.kill(crashed)
    await asyncio.sleep(1.0)
    assert (
        stack.events(
            "referral.events", lambda e: e.type == RECEIVED and e.data.get("referral_id") == referral_id
        )
        == []
    )

    restarted = stack.start("referral", port=_port(), database_url=database)
    try:
        await _healthy_url(stack, restarted)
        await stack.wait_for_event(
            "referral.events", lambda e: e.type == RECEIVED and e.data.get("referral_id") == referral_id
        )
        conn = await asyncpg.connect(asyncpg_dsn(database))
        try:
            for _ in range(100):
                if await conn.fetchval("SELECT count(*) FROM referral.outbox WHERE sent_at IS NULL") == 0:
                    break
                await asyncio.sleep(0.1)
            assert await conn.fetchval("SELECT count(*) FROM referral.outbox WHERE sent_at IS NULL") == 0
        finally:
            await conn.close()
        await asyncio.sleep(2.0)
        assert (
            len(
                stack.events(
                    "referral.events",
                    lambda e: e.type == RECEIVED and e.data.get("referral_id") == referral_id,
                )
            )
            == 1
        )
    finally:
        stack.kill(restarted)


def _port() -> int:
    from .stack import free_port

    return free_port()


async def _healthy_url(stack: Stack, proc, timeout: float = 60) -> str:
    port = next(int(name.split(":")[1]) for name, p in stack.processes.items() if p is proc)
    url = f"http://127.0.0.1:{port}"
    async with httpx.AsyncClient(timeout=2) as client:
        for _ in range(int(timeout * 10)):
            assert proc.poll() is None, "the service exited"
            try:
                if (await client.get(f"{url}/health")).status_code == 200:
                    return url
            except httpx.TransportError:
                pass
            await asyncio.sleep(0.1)
    raise AssertionError(f"{url} did not become healthy")


async def test_a_service_started_while_the_broker_is_down_accepts_writes_and_publishes_them_later(
    stack: Stack, http, member_id
):
    from aiokafka import AIOKafkaConsumer

    from hearth_devstack.broker import EmbeddedBroker
    from hearth_devstack.topics import create_topics

    from .stack import free_port

    broker_port = free_port()
    bootstrap = f"127.0.0.1:{broker_port}"
    service_port = free_port()
    proc = stack.start(
        "referral",
        port=service_port,
        database_url=await stack.isolated_database(),
        HEARTH_KAFKA_BOOTSTRAP=bootstrap,
    )
    url = f"http://127.0.0.1:{service_port}"
    for _ in range(600):
        try:
            if (await http.get(f"{url}/health/live")).status_code == 200:
                break
        except httpx.TransportError:
            await asyncio.sleep(0.1)
    health = await http.get(f"{url}/health")
    assert health.status_code == 503 and health.json()["checks"]["broker"] == "unavailable"

    response = await http.post(
        f"{url}/referrals",
        json={"member_id": member_id, "source": "ehr", "referrer_id": "dr-9", "referral_date": "2026-11-04"},
    )
    assert response.status_code == 201

    broker = EmbeddedBroker(broker_port)
    broker.start(detach=False)
    try:
        await create_topics(bootstrap)
        consumer = AIOKafkaConsumer(
            "referral.events", bootstrap_servers=bootstrap, group_id=None, auto_offset_reset="earliest"
        )
        await consumer.start()
        try:
            found = []
            for _ in range(60):
                batch = await consumer.getmany(timeout_ms=500)
                found += [r for rs in batch.values() for r in rs if r.key == member_id.encode()]
                if found:
                    break
            assert len(found) == 1
            assert dict(found[0].headers)["ce_type"] == b"hearth.referral.ReferralReceived.v1"
        finally:
            await consumer.stop()
        for _ in range(100):
            if (await http.get(f"{url}/health")).status_code == 200:
                break
            await asyncio.sleep(0.2)
        assert (await http.get(f"{url}/health")).json()["checks"]["broker"] == "ok"
    finally:
        stack.kill(proc)
        broker.stop()


async def test_the_relay_can_run_as_its_own_process(stack: Stack, http, member_id):
    import sys

    from .stack import free_port

    database = await stack.isolated_database()
    port = free_port()
    api = stack.start("referral", port=port, database_url=database, HEARTH_RELAY_ENABLED="false")
    url = await _healthy_url(stack, api)
    response = await http.post(
        f"{url}/referrals",
        json={"member_id": member_id, "source": "aco", "referrer_id": "aco-7", "referral_date": "2026-11-06"},
    )
    assert response.status_code == 201
    relay = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "hearth_platform.relay",
        "referral",
        env={**stack.infra.env(), "HEARTH_DATABASE_URL": database, "PATH": "/usr/bin:/bin"},
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.DEVNULL,
    )
    try:
        published = await stack.wait_for_event("referral.events", lambda e: e.subject == member_id)
        assert published.data["referral_id"] == response.json()["referral_id"]
    finally:
        relay.terminate()
        await relay.wait()
        stack.kill(api)


async def test_two_replicas_are_both_ready_and_one_relay_publishes_what_either_accepts(
    stack: Stack, http, member_id
):
    """As deploy/k8s runs a service: two replicas, each with its relay; the relay lock lets one
    publish, and the other replica stays ready (its readiness probe must not fail for waiting)."""
    from .stack import free_port

    database = await stack.isolated_database()
    first = stack.start("referral", port=free_port(), database_url=database)
    first_url = await _healthy_url(stack, first)
    second = stack.start("referral", port=free_port(), database_url=database)
    try:
        second_url = await _healthy_url(stack, second)
        brokers = {
            (await http.get(f"{url}/health")).json()["checks"]["broker"]: url
            for url in (first_url, second_url)
        }
        assert set(brokers) == {"ok", "standby"}
        response = await http.post(
            f"{brokers['standby']}/referrals",
            json={
                "member_id": member_id,
                "source": "aco",
                "referrer_id": "aco-8",
                "referral_date": "2026-11-06",
            },
        )
        assert response.status_code == 201, response.text
        published = await stack.wait_for_event("referral.events", lambda e: e.subject == member_id)
        assert published.data["referral_id"] == response.json()["referral_id"]
    finally:
        stack.kill(second)
        stack.kill(first)


async def test_a_batch_of_events_reaches_the_outbox_in_publish_order_and_only_when_committed(
    stack: Stack, member_id
):
    """A consumer batch's events are written by COPY, a handful by INSERT: either way in the order
    they were published, with their CloudEvents headers, inside the transaction."""
    database = await stack.isolated_database()
    await upgrade(database, referral.schema, referral.migrations)
    db = Database(Settings(database_url=database), referral.name, referral.platform)
    events = [referral_received(f"{member_id}-{n}") for n in range(COPY_FROM_ROWS + 10)]
    try:
        with pytest.raises(RuntimeError):
            async with db.unit_of_work() as uow:
                for event in events:
                    uow.publish(event)
                await uow.flush()
                raise RuntimeError("the handler failed after its events were staged")
        async with db.unit_of_work() as uow:
            batch = [uow.publish(event) for event in events]  # the COPY is the first statement
            await uow.commit()
        async with db.unit_of_work() as uow:
            few = [uow.publish(event) for event in events[:2]]
            await uow.commit()
        conn = await asyncpg.connect(asyncpg_dsn(database))
        try:
            rows = await conn.fetch(
                f'SELECT event_id, payload::text AS payload, headers::text AS headers FROM "{referral.schema}".outbox ORDER BY id'
            )
        finally:
            await conn.close()
    finally:
        await db.dispose()

    assert [r["event_id"] for r in rows] == batch + few
    first, last_of_batch = rows[0], rows[len(events) - 1]
    assert orjson.loads(first["payload"]) == events[0].model_dump(mode="json", exclude_none=True)
    headers = orjson.loads(last_of_batch["headers"])
    assert (headers["ce_id"], headers["ce_subject"], headers["ce_type"]) == (
        batch[-1],
        events[-1].member_id,
        RECEIVED,
    )
    assert orjson.loads(rows[-1]["headers"])["ce_subject"] == events[1].member_id


FEE_CONTRACT_V1 = """
tiers = ["moderate"]

[[contract]]
contract_id = "fees"
version = 1
effective_from = 2026-01-01
provider_org_id = "*"
line_of_business = "*"
proration = "full_month"
assessment_fee = "300.00"
pmpm = { moderate = "400.00" }
"""
# Version 1 ends with October; version 2 pays a higher fee from November.
FEE_CONTRACT_V2 = (
    FEE_CONTRACT_V1.replace(
        'assessment_fee = "300.00"', 'effective_to = 2026-10-31\nassessment_fee = "300.00"'
    )
    + """
[[contract]]
contract_id = "fees"
version = 2
effective_from = 2026-11-01
provider_org_id = "*"
line_of_business = "*"
proration = "full_month"
assessment_fee = "350.00"
pmpm = { moderate = "400.00" }
"""
)


async def test_fees_are_priced_by_contract_versions_published_after_the_consumer_read_the_book(
    stack: Stack, tmp_path: Path
):
    """Billing's consumer keeps the contract book between batches: a version published later, and
    the end date it gives the version before, still price the next assessments."""
    (tmp_path / "plan.toml").write_text(FEE_CONTRACT_V1, encoding="utf-8")
    async for billing in billing_with_contracts(stack, tmp_path):
        await billing.deliver(assessed("CB1", "org-a", date(2026, 11, 5), "A-CB1"))
        (tmp_path / "plan.toml").write_text(FEE_CONTRACT_V2, encoding="utf-8")
        await billing_handlers.load_contracts(billing.db, tmp_path)
        await billing.deliver(
            assessed("CB2", "org-a", date(2026, 11, 5), "A-CB2"),
            assessed("CB3", "org-a", date(2026, 10, 5), "A-CB3"),
        )
        fees = [(f["assessment_id"], f["amount"]) for f in await billing.outbox(FEE_ACCRUED)]
        assert fees == [("A-CB1", "300.00"), ("A-CB2", "350.00"), ("A-CB3", "300.00")]
