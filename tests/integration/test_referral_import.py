"""Referral lists from ACOs and care managers: good lines import, bad lines are reported."""

import asyncio
import sys
import uuid

import asyncpg

from hearth_platform.db import asyncpg_dsn

from .stack import Stack


async def test_a_csv_list_imports_its_good_lines_links_repeats_and_reports_bad_lines(stack: Stack, http):
    run = uuid.uuid4().hex[:8]
    members = [f"L-{run}-{i}" for i in range(3)]
    csv = (
        "member_id,source,referrer_id,referral_date,goals_of_care_discussed\n"
        f"{members[0]},aco,aco-1,2026-11-02,true\n"
        f"{members[1]},aco,aco-1,2026-11-31,\n"
        f"{members[2]},aco,aco-1,2026-11-02,false\n"
        f"{members[0]},care_manager,cm-1,2026-11-03,\n"
    )
    response = await http.post(
        f"{stack.url('referral')}/referrals/import",
        content=csv.encode(),
        headers={"content-type": "text/csv"},
    )
    assert response.status_code == 200
    body = response.json()
    assert (body["lines"], body["imported"], body["linked_to_open_referral"]) == (4, 2, 1)
    assert [(e["line"], e["field"]) for e in body["errors"]] == [(3, "referral_date")]
    for member in (members[0], members[2]):
        await stack.wait_for_event("referral.events", lambda e, m=member: e.subject == m)
    await asyncio.sleep(0.5)
    received = "hearth.referral.ReferralReceived.v1"
    assert len(stack.events("referral.events", lambda e: e.subject == members[0] and e.type == received)) == 1


async def test_a_list_in_another_format_is_refused_with_415(stack: Stack, http):
    response = await http.post(
        f"{stack.url('referral')}/referrals/import",
        content=b"<xml/>",
        headers={"content-type": "application/xml"},
    )
    assert response.status_code == 415
    assert response.json()["error"] == "unsupported_media_type"


async def test_the_cli_sends_a_large_list_in_chunks_and_reports_errors_by_file_line(stack: Stack, tmp_path):
    run = uuid.uuid4().hex[:8]
    lines = [
        f'{{"member_id": "C-{run}-{i}", "source": "aco", "referrer_id": "aco-2", "referral_date": "2026-11-04"}}\n'
        for i in range(4500)
    ]
    lines[3100] = (
        '{"member_id": "bad member id!", "source": "aco", "referrer_id": "aco-2", "referral_date": "2026-11-04"}\n'
    )
    path = tmp_path / "referrals.ndjson"
    path.write_text("".join(lines))
    cli = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "hearth_devstack.cli",
        "referrals",
        "import",
        str(path),
        "--url",
        stack.url("referral"),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(cli.communicate(), 120)
    assert cli.returncode == 2, err.decode()[-2000:]
    text = out.decode()
    assert "imported 4499, linked to an open referral 0, lines with errors 1" in text
    assert "line 3101: member_id:" in text


async def test_a_retried_list_with_the_same_idempotency_key_answers_the_same_and_imports_nothing_again(
    stack: Stack, http
):
    run = uuid.uuid4().hex[:8]
    ndjson = (
        "".join(
            f'{{"member_id": "K-{run}-{i}", "source": "aco", "referrer_id": "aco-3", "referral_date": "2026-11-05"}}\n'
            for i in range(3)
        )
        + '{"member_id": "K-bad!", "source": "aco", "referrer_id": "aco-3", "referral_date": "2026-11-05"}\n'
    )
    send = lambda: http.post(  # noqa: E731
        f"{stack.url('referral')}/referrals/import",
        content=ndjson.encode(),
        headers={"content-type": "application/x-ndjson", "Idempotency-Key": f"list-{run}"},
    )
    first, retry = await send(), await send()
    assert first.status_code == retry.status_code == 200
    assert first.json()["imported"] == 3 and first.json()["errors"][0]["line"] == 4
    assert retry.json() == first.json()
    # Without the key the same list links every member to the referral the first import made.
    again = await http.post(
        f"{stack.url('referral')}/referrals/import",
        content=ndjson.encode(),
        headers={"content-type": "application/x-ndjson"},
    )
    assert (again.json()["imported"], again.json()["linked_to_open_referral"]) == (0, 3)


async def test_imported_referrals_are_assigned_to_their_organizations_coordinators_by_caseload(
    stack: Stack, http
):
    base = stack.url("referral")
    tag = uuid.uuid4().hex[:8]
    org = f"org-imp-{tag}"
    for coordinator in (f"ca-{tag}", f"cb-{tag}"):
        registered = await http.post(
            f"{base}/coordinators", json={"coordinator_id": coordinator, "provider_org_id": org}
        )
        assert registered.status_code == 201, registered.text
    csv = "member_id,source,referrer_id,referral_date,provider_org_id\n" + "".join(
        f"A-{tag}-{i},aco,aco-4,2026-11-20,{org}\n" for i in range(5)
    )
    response = await http.post(
        f"{base}/referrals/import", content=csv.encode(), headers={"content-type": "text/csv"}
    )
    assert response.json()["imported"] == 5, response.text
    worklist = (
        await http.get(f"{base}/worklist", params={"provider_org_id": org, "as_of": "2026-11-25"})
    ).json()
    # One at a time: ca (0 open, smaller id), cb (0), ca (1), cb (1), ca (2).
    assert {
        c["coordinator_id"]: sorted(r["member_id"] for r in c["referrals"]) for c in worklist["coordinators"]
    } == {
        f"ca-{tag}": [f"A-{tag}-0", f"A-{tag}-2", f"A-{tag}-4"],
        f"cb-{tag}": [f"A-{tag}-1", f"A-{tag}-3"],
    }
    first_referral = worklist["coordinators"][0]["referrals"][0]["referral_id"]
    history = (await http.get(f"{base}/referrals/{first_referral}")).json()["history"]
    assert [(h["from"], h["to"], h["actor"]) for h in history] == [(None, "received", "aco-4")]


async def test_caseloads_stay_exact_when_lists_import_concurrently(stack: Stack, http):
    """The open caseloads assignment reads are kept as changes folded by each import; lists in
    flight together must neither lose nor double a change."""
    base = stack.url("referral")
    tag = uuid.uuid4().hex[:8]
    org = f"org-con-{tag}"
    coordinators = [f"c{i}-{tag}" for i in range(3)]
    for coordinator in coordinators:
        registered = await http.post(
            f"{base}/coordinators", json={"coordinator_id": coordinator, "provider_org_id": org}
        )
        assert registered.status_code == 201, registered.text

    async def send(batch: int) -> int:
        lines = "".join(
            f'{{"member_id":"C-{tag}-{batch}-{i}","source":"aco","referrer_id":"aco-5",'
            f'"referral_date":"2026-11-20","provider_org_id":"{org}"}}\n'
            for i in range(150)
        )
        response = await http.post(
            f"{base}/referrals/import",
            content=lines.encode(),
            headers={"content-type": "application/x-ndjson"},
        )
        assert response.status_code == 200, response.text
        return int(response.json()["imported"])

    assert sum(await asyncio.gather(*(send(b) for b in range(4)))) == 600
    worklist = (
        await http.get(f"{base}/worklist", params={"provider_org_id": org, "as_of": "2026-11-25"})
    ).json()
    listed = {c["coordinator_id"]: len(c["referrals"]) for c in worklist["coordinators"]}
    counted = {
        c["coordinator_id"]: c["open_referrals"]
        for c in (await http.get(f"{base}/coordinators", params={"provider_org_id": org})).json()[
            "coordinators"
        ]
    }
    assert counted == listed and sum(counted.values()) == 600


async def test_an_imported_line_is_published_as_the_referral_received_contract(stack: Stack, http):
    run = uuid.uuid4().hex[:8]
    member = f"E-{run}"
    ndjson = (
        f'{{"member_id": "{member}", "source": "care_manager", "referrer_id": "cm-7", '
        '"referral_date": "2026-11-06", "provider_org_id": "org-e", "goals_of_care_discussed": false}\n'
    )
    response = await http.post(
        f"{stack.url('referral')}/referrals/import",
        content=ndjson.encode(),
        headers={"content-type": "application/x-ndjson"},
    )
    assert response.json()["imported"] == 1, response.text
    event = await stack.wait_for_event("referral.events", lambda e: e.subject == member)
    assert event.type == "hearth.referral.ReferralReceived.v1"
    referral_id = event.data["referral_id"]
    assert {k: v for k, v in event.data.items() if k not in ("referral_id", "received_at")} == {
        "member_id": member,
        "source": "care_manager",
        "referrer_id": "cm-7",
        "referral_date": "2026-11-06",
        "provider_org_id": "org-e",
        "goals_of_care_discussed": False,
    }
    referral = (await http.get(f"{stack.url('referral')}/referrals/{referral_id}")).json()
    assert (referral["member_id"], referral["status"]) == (member, "received")
    assert event.correlation_id and event.traceparent and event.id != referral_id


async def test_a_list_whose_member_another_request_refers_meanwhile_is_refused_whole_then_links_on_retry(
    stack: Stack, http
):
    run = uuid.uuid4().hex[:8]
    member, other = f"R-{run}-0", f"R-{run}-1"
    ndjson = "".join(
        f'{{"member_id": "{m}", "source": "aco", "referrer_id": "aco-8", "referral_date": "2026-11-07"}}\n'
        for m in (member, other)
    ).encode()
    url = f"{stack.url('referral')}/referrals/import"
    headers = {"content-type": "application/x-ndjson"}
    # Another writer has opened a referral for the member and not committed yet: the list's
    # insert waits for it, then meets the one-open-referral-per-member rule.
    conn = await asyncpg.connect(asyncpg_dsn(stack.infra.database_url))
    try:
        meanwhile = conn.transaction()
        await meanwhile.start()
        await conn.execute(
            "INSERT INTO referral.referrals (referral_id, member_id, source, referrer_id, referral_date,"
            " received_at, status) VALUES ($1, $2, 'ehr', 'dr-8', '2026-11-07', now(), 'received')",
            f"meanwhile-{run}",
            member,
        )
        first = asyncio.create_task(http.post(url, content=ndjson, headers=headers))
        await asyncio.sleep(1.0)
        await meanwhile.commit()
        refused = await first
    finally:
        await conn.close()
    assert refused.status_code == 409, refused.text
    assert "send it again" in refused.json()["message"]
    # Nothing of the list was kept; sent again, the member links and the other line imports.
    retry = await http.post(url, content=ndjson, headers=headers)
    assert (retry.json()["imported"], retry.json()["linked_to_open_referral"]) == (1, 1), retry.text
