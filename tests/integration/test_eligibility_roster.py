"""Coverage rosters over HTTP and the real Postgres: a roster loads whole in one transaction, or
nothing of it does, with every line's errors named."""

import uuid

import orjson

from .stack import Stack

HEADER = "member_id,plan_id,line_of_business,market,aco_id,provider_org_id,start_date,end_date\n"
CSV = {"content-type": "text/csv"}


def members(n: int) -> list[str]:
    run = uuid.uuid4().hex[:8]
    return [f"M-{run}-{i}" for i in range(n)]


async def test_a_csv_roster_loads_in_one_go_and_each_member_is_covered(stack: Stack, http):
    base = stack.url("eligibility")
    m = members(3)
    body = HEADER + "".join(f"{mid},plan-r,medi_cal,alameda,aco-1,org-r,2026-01-01,2026-12-31\n" for mid in m)
    loaded = await http.post(f"{base}/coverage/import", content=body, headers=CSV)
    assert loaded.status_code == 200, loaded.text
    assert loaded.json() == {"lines": 3, "members": 3, "added": 3, "unchanged": 0}
    for mid in m:
        covered = await http.get(f"{base}/members/{mid}/coverage", params={"on": "2026-06-15"})
        assert covered.status_code == 200
        assert (covered.json()["plan_id"], covered.json()["provider_org_id"]) == ("plan-r", "org-r")

    again = await http.post(f"{base}/coverage/import", content=body, headers=CSV)
    assert again.json() == {"lines": 3, "members": 3, "added": 0, "unchanged": 3}
    history = (await http.get(f"{base}/members/{m[0]}/coverage/history")).json()
    assert len(history) == 1


async def test_a_roster_with_one_bad_line_loads_nothing_and_names_every_problem(stack: Stack, http):
    base = stack.url("eligibility")
    good, bad, clash = members(3)
    first = await http.post(
        f"{base}/coverage/import",
        content=HEADER + f"{clash},plan-a,commercial,fresno,,org-1,2026-01-01,\n",
        headers=CSV,
    )
    assert first.status_code == 200, first.text
    span = (await http.get(f"{base}/members/{clash}/coverage", params={"on": "2026-01-01"})).json()

    body = (
        HEADER
        + f"{good},plan-a,commercial,fresno,,org-1,2026-01-01,\n"
        + f"{bad},plan-a,commercial,fresno,,org-1,2026-02-30,\n"
        + f"{clash},plan-b,commercial,fresno,,org-1,2026-03-01,\n"
    )
    refused = await http.post(f"{base}/coverage/import", content=body, headers=CSV)
    assert refused.status_code == 422, refused.text
    detail = refused.json()["detail"]
    assert [(d["line"], d["field"]) for d in detail] == [(3, "start_date"), (4, "start_date")]
    assert span["span_id"] in detail[1]["reason"] and "line 4" in detail[1]["reason"]
    assert "nothing was loaded" in refused.json()["message"]
    nothing = await http.get(f"{base}/members/{good}/coverage", params={"on": "2026-01-01"})
    assert nothing.status_code == 404


async def test_an_ndjson_roster_is_loaded_like_a_csv_one(stack: Stack, http):
    base = stack.url("eligibility")
    (mid,) = members(1)
    lines = [
        {"member_id": mid, "plan_id": "plan-n", "line_of_business": "d_snp", "market": "kern",
         "start_date": "2026-01-01", "end_date": "2026-03-31"},
        {"member_id": mid, "plan_id": "plan-n", "line_of_business": "d_snp", "market": "kern",
         "provider_org_id": "org-n", "start_date": "2026-04-01"},
    ]  # fmt: skip
    body = b"\n".join(orjson.dumps(line) for line in lines)
    loaded = await http.post(
        f"{base}/coverage/import", content=body, headers={"content-type": "application/x-ndjson"}
    )
    assert loaded.json() == {"lines": 2, "members": 1, "added": 2, "unchanged": 0}
    april = (await http.get(f"{base}/members/{mid}/coverage", params={"on": "2026-04-01"})).json()
    assert april["provider_org_id"] == "org-n"


async def test_a_roster_in_another_format_is_refused_with_415(stack: Stack, http):
    refused = await http.post(
        f"{stack.url('eligibility')}/coverage/import", content=b"<xml/>", headers={"content-type": "text/xml"}
    )
    assert refused.status_code == 415
