"""`hearth coverage import`: rosters and 834 files bigger than the request limit travel in parts
that are each valid on their own, and errors point at the line of the file."""

import asyncio
import uuid
from datetime import UTC, date, datetime

from hearth_devstack.coverage_import import enrolment_parts, import_coverage, roster_parts
from hearth_eligibility.x12.enrolment_834 import load_plan_codes, read_maintenance
from hearth_eligibility.x12.enrolment_file import ADD, TERMINATION, MemberMaintenance, enrolment_file
from hearth_eligibility.x12.validation import read_validated

from .stack import Stack


def loops(n: int) -> list[MemberMaintenance]:
    run = uuid.uuid4().hex[:8]
    return [MemberMaintenance(f"M-{run}-{i}", ADD, "MCAL-ALA", date(2026, 11, 1)) for i in range(n)]


def test_a_big_834_splits_between_member_loops_into_valid_interchanges():
    members = loops(40)
    text = enrolment_file(members, at=datetime.now(UTC))
    parts = enrolment_parts(text, limit=2_000)
    assert len(parts) > 3 and all(len(p.text) <= 2_000 for p in parts)
    read = [m for p in parts for m in read_maintenance(read_validated(p.text), load_plan_codes())[0]]
    assert [m.member_id for m in read] == [m.member_id for m in members]
    assert sum(p.records for p in parts) == 40
    # Every part's lines point back at the file: its ISA is line 1 and its SE the file's SE line.
    total_lines = text.count("\n")
    assert all(p.lines[0] == 1 and p.lines[-3] == total_lines - 2 for p in parts)


def test_a_roster_splits_into_line_chunks_each_under_its_header():
    text = "member_id,plan_id\n" + "".join(f"M{i},p\n" for i in range(10))
    parts = roster_parts(text, is_csv=True, limit=40)
    assert all(p.text.startswith("member_id,plan_id\n") for p in parts)
    assert [n for p in parts for n in p.lines[1:]] == list(range(2, 12))


async def test_the_import_command_loads_an_834_in_parts(stack: Stack, http, tmp_path):
    members = loops(30)
    ended = MemberMaintenance(
        members[0].member_id, TERMINATION, "MCAL-ALA", date(2026, 11, 1), eligibility_end=date(2026, 12, 31)
    )
    path = tmp_path / "enrolment.834"
    path.write_text(enrolment_file([*members, ended], at=datetime.now(UTC)))
    base = stack.url("eligibility")
    # The command blocks, so it runs in a thread while the event loop serves the test client.
    code = await asyncio.to_thread(import_coverage, path, base, part_bytes=2_000)
    assert code == 0
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
    code = await asyncio.to_thread(import_coverage, path, stack.url("eligibility"), part_bytes=120)
    assert code == 2
    err = capsys.readouterr().err
    # Data line 5 is line 6 of the file (after the header), whichever part carried it.
    assert "line 6: start_date:" in err
    assert "re-sending them changes nothing" in err
