"""`POST /referrals` as one coalesced statement: retries with an Idempotency-Key and concurrent
referrals of one member answer with the one referral, which is announced once."""

import asyncio
import uuid

from .stack import Stack

RECEIVED = "hearth.referral.ReferralReceived.v1"


def body(member_id: str, referrer_id: str = "aco-1") -> dict:
    return {
        "member_id": member_id,
        "source": "aco",
        "referrer_id": referrer_id,
        "referral_date": "2026-11-02",
    }


async def test_a_retry_with_the_same_idempotency_key_answers_200_with_the_referral_it_created(
    stack: Stack, http, member_id
):
    url, key = f"{stack.url('referral')}/referrals", f"retry-{uuid.uuid4().hex}"
    first = await http.post(url, json=body(member_id), headers={"Idempotency-Key": key})
    retry = await http.post(url, json=body(member_id), headers={"Idempotency-Key": key})
    assert (first.status_code, retry.status_code) == (201, 200), retry.text
    assert retry.json() == {**first.json(), "created": False}
    assert first.json()["status"] == "received" and first.json()["needs_goals_of_care"] is True


async def test_members_referred_at_once_get_one_referral_each_announced_once(stack: Stack, http):
    url = f"{stack.url('referral')}/referrals"
    members = [f"CC-{uuid.uuid4().hex[:10]}" for _ in range(3)]
    # Twelve requests at once (three members, four referrers each): coalesced into few batches.
    answers = await asyncio.gather(
        *(http.post(url, json=body(m, f"ref-{n}")) for n in range(4) for m in members)
    )
    assert all(a.status_code in (200, 201) for a in answers), [a.text for a in answers]
    for member in members:
        mine = [a for a in answers if a.json()["member_id"] == member]
        assert sorted(a.status_code for a in mine) == [200, 200, 200, 201]
        assert len({a.json()["referral_id"] for a in mine}) == 1
        await stack.wait_for_event(
            "referral.events", lambda e, m=member: e.type == RECEIVED and e.subject == m
        )
    await asyncio.sleep(0.5)
    announced = stack.events("referral.events", lambda e: e.type == RECEIVED and e.subject in members)
    assert sorted(e.subject for e in announced) == sorted(members)
    history = (await http.get(f"{url}/{answers[0].json()['referral_id']}")).json()["history"]
    # Received once (eligibility then closes it: the member has no coverage).
    assert [(h["from"], h["to"]) for h in history if h["from"] is None] == [(None, "received")]
