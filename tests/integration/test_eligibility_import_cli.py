"""`hearth coverage import`: an 834 travels whole in one request and loads all-or-nothing; a roster
is one request under the bulk limit, line chunks above it; errors point at the line of the file."""

import asyncio
import uuid
from datetime import UTC, date, datetime

from hearth_devstack.coverage_import import enrolment_parts, import_coverage, roster_parts
from hearth_eligibility.x12.enrolment_file import ADD, TERMINATION, MemberMaintenance, enrolment_file

from .stack import Stack


def loops(n: int) -> list[MemberMaintenance]:
    run = uuid.uuid4().hex[:8]
    return [MemberMaintenance(f"M-{run}-{i}", ADD, "MCAL-ALA", date(2026, 11, 1)) for i in range(n)]


def test_an_834_travels_whole_as_one_request_counting_its_member_loops():
    text = enrolment_file(loops(40), at=datetime.now(UTC))
    (part,) = enrolment_parts(text)
    assert part.text == text
    assert part.records == 40


def test_a_roster_splits_into_line_chunks_each_under_its_header():
    text = "member_id,plan_id\n" + "".join(f"M{i},p\n" for i in range(10))
    parts = roster_parts(text, is_csv=True, limit=40)
    assert all(p.text.startswith("member_id,plan_id\n") for p in parts)
    assert [n for p in parts for n in p.lines[1:]] == list(range(2, 12))


async def test_the_import_command_loads_a_7500_member_834_over_a_megabyte_in_one_request(
    stack: Stack, http, tmp_path, capsys
):
    members = loops(7_500)
    ended = MemberMaintenance(
        members[0].member_id, TERMINATION, "MCAL-ALA", date(2026, 11, 1), eligibility_end=date(2026, 12, 31)
    )
    path = tmp_path / "enrolment.834"
    path.write_text(enrolment_file([*members, ended], at=datetime.now(UTC)))
    base = stack.url("eligibility")
    # The command blocks, so it runs in a thread while the event loop serves the test client.
    assert path.stat().st_size > 1_000_000  # over the default request limit of every other route
    code = await asyncio.to_thread(import_coverage, path, base)
    assert code == 0
    out = capsys.readouterr().out
    assert "adds 7500" in out and "terminations 1" in out and "(1 requests)" in out
    last = (
        await http.get(f"{base}/members/{members[-1].member_id}/coverage", params={"on": "2027-01-15"})
    ).json()
    assert last["plan_id"] == "medi-cal-alameda"
    first = (
        await http.get(f"{base}/members/{members[0].member_id}/coverage", params={"on": "2026-12-31"})
    ).json()
    assert first["end_date"] == "2026-12-31"


async def test_a_refused_roster_names_the_line_of_the_file(stack: Stack, tmp_path, capsys):
    run = uuid.uuid4().hex[:8]
    header = "member_id,plan_id,line_of_business,market,start_date\n"
    lines = [f"M-{run}-{i},plan-c,medi_cal,alameda,2026-11-01\n" for i in range(6)]
    lines[4] = f"M-{run}-4,plan-c,medi_cal,alameda,2026-13-01\n"
    path = tmp_path / "roster.csv"
    path.write_text(header + "".join(lines))
    code = await asyncio.to_thread(import_coverage, path, stack.url("eligibility"), roster_bytes=120)
    assert code == 2
    err = capsys.readouterr().err
    # Data line 5 is line 6 of the file (after the header), whichever part carried it.
    assert "line 6: start_date:" in err
    assert "re-sending them changes nothing" in err


async def test_a_roster_under_the_bulk_limit_loads_in_one_request(stack: Stack, http, tmp_path, capsys):
    run = uuid.uuid4().hex[:8]
    header = "member_id,plan_id,line_of_business,market,start_date\n"
    path = tmp_path / "roster.csv"
    path.write_text(header + "".join(f"M-{run}-{i},plan-c,medi_cal,alameda,2026-11-01\n" for i in range(3)))
    code = await asyncio.to_thread(import_coverage, path, stack.url("eligibility"))
    assert code == 0
    assert capsys.readouterr().out.strip().endswith("added 3, unchanged 0 (1 requests)")
