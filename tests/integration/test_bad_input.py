"""Bad input gets a clear error naming the field, and nothing of it is written."""

import asyncpg

from hearth_platform.db import asyncpg_dsn

from .stack import Stack


async def _rows_for(stack: Stack, member_id: str) -> int:
    conn = await asyncpg.connect(asyncpg_dsn(stack.infra.database_url))
    try:
        referrals = await conn.fetchval(
            "SELECT count(*) FROM referral.referrals WHERE member_id = $1", member_id
        )
        outbox = await conn.fetchval("SELECT count(*) FROM referral.outbox WHERE aggregateid = $1", member_id)
        return int(referrals) + int(outbox)
    finally:
        await conn.close()


async def test_a_malformed_referral_gets_422_naming_each_field_and_writes_nothing(
    stack: Stack, http, member_id
):
    response = await http.post(
        f"{stack.url('referral')}/referrals",
        json={
            "member_id": member_id,
            "source": "fax",
            "referrer_id": "dr-1",
            "referral_date": "2026-02-30",
            "patient_name": "not accepted",
        },
    )
    assert response.status_code == 422
    body = response.json()
    assert body["error"] == "validation_error"
    fields = {d["field"]: d["reason"] for d in body["detail"]}
    assert set(fields) == {"body.source", "body.referral_date", "body.patient_name"}
    assert "not accepted" not in response.text, "an error must not echo submitted values"
    assert await _rows_for(stack, member_id) == 0


async def test_a_body_that_is_not_json_gets_422_and_an_oversized_one_413(stack: Stack, http):
    response = await http.post(
        f"{stack.url('referral')}/referrals",
        content=b"{not json",
        headers={"content-type": "application/json"},
    )
    assert response.status_code == 422
    huge = await http.post(
        f"{stack.url('referral')}/referrals",
        content=b"x" * 2_000_000,
        headers={"content-type": "application/json"},
    )
    assert huge.status_code == 413
    assert huge.json()["error"] == "payload_too_large"


async def test_an_illegal_transition_is_refused_with_409_and_the_reason(stack: Stack, http, member_id):
    created = await http.post(
        f"{stack.url('referral')}/referrals",
        json={"member_id": member_id, "source": "aco", "referrer_id": "aco-1", "referral_date": "2026-11-02"},
    )
    referral_id = created.json()["referral_id"]
    assessment = {
        "provider_org_id": "org-a",
        "assessed_on": "2026-11-05",
        "mode": "phone",
        "decision": "decline",
    }
    first = await http.post(f"{stack.url('referral')}/referrals/{referral_id}/assessment", json=assessment)
    assert first.status_code == 201
    again = await http.post(f"{stack.url('referral')}/referrals/{referral_id}/assessment", json=assessment)
    assert again.status_code == 409
    assert again.json()["message"].startswith("a referral in status 'declined' cannot move to 'assessed'")


async def test_a_value_postgres_cannot_store_gets_422_not_500(stack: Stack, http, member_id):
    response = await http.post(
        f"{stack.url('eligibility')}/members/{member_id}/coverage",
        json={
            "plan_id": "plan\u0000x",
            "line_of_business": "medi_cal",
            "market": "alameda",
            "start_date": "2026-01-01",
        },
    )
    assert response.status_code == 422
    assert response.json()["error"] == "unstorable_value"
