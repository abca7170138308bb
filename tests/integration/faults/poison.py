"""Faults that travel on the topics: poison (bytes that are not JSON, CloudEvents whose data fail
their schema) and redelivery (already delivered events published again with their own ce_id)."""

from __future__ import annotations

import asyncio
import json
import uuid
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Literal

from hearth_platform.cloudevents import encode, new_envelope
from hearth_schemas import AssessmentCompleted, Event, MemberEnrolled, ReferralReceived

from ..stack import Record, Stack

Kind = Literal["undecodable", "schema"]


@dataclass(frozen=True)
class Poison:
    topic: str
    partition: int
    offset: int
    kind: Kind
    key: bytes
    value: bytes
    ce_id: str | None = None
    ce_type: str | None = None

    @property
    def origin(self) -> tuple[str, int, int]:
        return (self.topic, self.partition, self.offset)


def _valid_events(member_id: str) -> tuple[Event, Event, Event]:
    """One valid event of each consumed type, whose data the poison then replaces: the headers
    stay those of a real event, so only the schema check can refuse it."""
    referral_id = str(uuid.uuid4())
    received = ReferralReceived(
        referral_id=referral_id,
        member_id=member_id,
        source="aco",
        referrer_id="aco-7",
        referral_date=date(2026, 1, 2),
        received_at=datetime.now(UTC),
    )
    assessed = AssessmentCompleted(
        assessment_id=str(uuid.uuid4()),
        referral_id=referral_id,
        member_id=member_id,
        provider_org_id="org-poison",
        assessed_on=date(2026, 1, 3),
        mode="in_person",
        decision="enrol",
    )
    enrolled = MemberEnrolled(
        enrollment_id=str(uuid.uuid4()),
        member_id=member_id,
        provider_org_id="org-poison",
        tier="moderate",
        effective_date=date(2026, 1, 3),
        consent_on=date(2026, 1, 3),
    )
    return received, assessed, enrolled


async def _send(
    stack: Stack, topic: str, key: bytes, value: bytes, headers: list[tuple[str, bytes]]
) -> tuple[int, int]:
    producer = await stack.producer()
    sent = await producer.send_and_wait(topic, value=value, key=key, headers=headers)
    return sent.partition, sent.offset


async def inject_one(stack: Stack, n: int) -> Poison:
    """The n-th poison, cycling through the kinds: not-JSON bytes on referral.events and on
    eligibility.events, then a ReferralReceived, an AssessmentCompleted and a MemberEnrolled whose
    data fail their schema. Each has its own member key, so it holds up no real member."""
    member_id = f"P-{uuid.uuid4().hex[:12]}"
    key = member_id.encode()
    which = n % 5
    if which < 2:
        topic = ("referral.events", "eligibility.events")[which]
        value = b"\x00\xff not json " + uuid.uuid4().hex.encode()
        partition, offset = await _send(stack, topic, key, value, [("ce_specversion", b"1.0")])
        return Poison(topic, partition, offset, "undecodable", key, value)
    events = _valid_events(member_id)
    bad_data: tuple[dict[str, object], ...] = (
        {"member_id": member_id, "source": "fax"},
        {"member_id": member_id, "decision": "maybe", "assessed_on": "not a date"},
        {"member_id": member_id, "tier": "extreme", "effective_date": "soon"},
    )
    event = events[which - 2]
    env, topic, data = new_envelope(event, source="/faults/poison"), event.topic(), bad_data[which - 2]
    key, _, headers = encode(env)
    value = json.dumps(data).encode()
    partition, offset = await _send(stack, topic, key, value, headers)
    return Poison(topic, partition, offset, "schema", key, value, ce_id=env.id, ce_type=env.type)


async def inject_at_rate(
    stack: Stack, poison: list[Poison], running: asyncio.Event, share: float, floor: int
) -> None:
    """While `running` is set, keep the poison at `share` of the events on the consumed topics
    (counted from when this starts), and at least `floor` in all once the load is over."""
    start = len(stack.records)
    injected = 0

    def events_since() -> int:
        return sum(1 for r in stack.records[start:] if r.topic in ("referral.events", "eligibility.events"))

    while running.is_set():
        while injected < int(events_since() * share):
            poison.append(await inject_one(stack, len(poison)))
            injected += 1
        await asyncio.sleep(0.2)
    while injected < floor:
        poison.append(await inject_one(stack, len(poison)))
        injected += 1


async def redeliver(stack: Stack, subjects: set[str], running: asyncio.Event, every: int) -> int:
    """While `running` is set, publish again every `every`-th event delivered so far about
    `subjects` (same key, value and headers: the same ce_id), as a broker redelivers after a
    rebalance. Returns how many copies were sent."""
    sent = 0
    seen = 0
    copied: set[str] = set()
    while running.is_set():
        records: list[Record] = [
            r
            for r in stack.records
            if r.topic in ("referral.events", "eligibility.events")
            and r.envelope is not None
            and r.envelope.subject in subjects
            and r.envelope.source.startswith("/hearth/")
        ]
        for record in records[seen:]:
            seen += 1
            assert record.envelope is not None
            if seen % every == 0 and record.envelope.id not in copied:  # a copy is not copied again
                copied.add(record.envelope.id)
                headers = [(k, v.encode()) for k, v in record.headers.items()]
                await stack.publish_raw(record.topic, record.key, record.value, headers)
                sent += 1
        await asyncio.sleep(0.2)
    return sent
