"""Referral lists from ACOs and care managers: good lines import, bad lines are reported."""

import asyncio
import sys
import uuid

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
