"""X12 over HTTP and the real Postgres: an 834 with adds, changes and terminations loads with its
history; a malformed one is refused naming the segment and position, and nothing of it loads."""

import uuid
from datetime import UTC, date, datetime
from pathlib import Path

from hearth_eligibility.x12.enrolment_file import ADD, CHANGE, TERMINATION, MemberMaintenance, enrolment_file
from hearth_eligibility.x12.validation import read_envelope_checked, read_validated

from .stack import Stack

# 270s as outside tools write them (see services/eligibility/tests/test_x12_270.py).
SAMPLES = Path(__file__).parents[2] / "services" / "eligibility" / "tests" / "x12"
INQUIRY_5010 = (SAMPLES / "inquiry_005010X279A1.x12").read_text()
INQUIRY_4010 = (SAMPLES / "inquiry_004010X092A1.x12").read_text()

X12 = {"content-type": "application/edi-x12"}


def members(n: int) -> list[str]:
    run = uuid.uuid4().hex[:8]
    return [f"M-{run}-{i}" for i in range(n)]


def file_of(*loops: MemberMaintenance, control: int = 7) -> str:
    return enrolment_file(loops, at=datetime.now(UTC), control_number=control)


async def test_an_834_with_adds_changes_and_terminations_loads_with_its_history(stack: Stack, http):
    base = stack.url("eligibility")
    added, changed, ended = members(3)
    first = await http.post(
        f"{base}/x12/834",
        content=file_of(
            MemberMaintenance(added, ADD, "MCAL-ALA", date(2026, 11, 1)),
            MemberMaintenance(changed, ADD, "MCAL-ALA", date(2026, 11, 1)),
            MemberMaintenance(ended, ADD, "MCAL-ALA", date(2026, 11, 1)),
        ),
        headers=X12,
    )
    assert first.status_code == 200, first.text
    assert first.json() | {"plan_codes_version": "-"} == {
        "members": 3,
        "adds": 3,
        "changes": 0,
        "terminations": 0,
        "spans_added": 3,
        "unchanged": 0,
        "disenrolled": 0,
        "plan_codes_version": "-",
        "validated_by": "pyx12",
    }
    before_second = (await http.get(f"{base}/members/{ended}/coverage", params={"on": "2026-12-15"})).json()

    second = await http.post(
        f"{base}/x12/834",
        content=file_of(
            MemberMaintenance(added, ADD, "MCAL-ALA", date(2026, 11, 1)),
            MemberMaintenance(changed, CHANGE, "DSNP-ALA", date(2026, 11, 1)),
            MemberMaintenance(
                ended, TERMINATION, "MCAL-ALA", date(2026, 11, 1), eligibility_end=date(2026, 11, 30)
            ),
            control=8,
        ),
        headers=X12,
    )
    assert second.status_code == 200, second.text
    assert (second.json()["spans_added"], second.json()["unchanged"]) == (2, 1)

    now_changed = (await http.get(f"{base}/members/{changed}/coverage", params={"on": "2026-12-15"})).json()
    assert (now_changed["plan_id"], now_changed["line_of_business"]) == ("d-snp-alameda", "d_snp")
    gone = await http.get(f"{base}/members/{ended}/coverage", params={"on": "2026-12-15"})
    assert gone.status_code == 404
    still = (await http.get(f"{base}/members/{ended}/coverage", params={"on": "2026-11-30"})).json()
    assert (still["end_date"], still["supersedes_span_id"]) == ("2026-11-30", before_second["span_id"])

    # The termination is a new record: as known before the second file, the member was covered.
    known_then = await http.get(
        f"{base}/members/{ended}/coverage",
        params={"on": "2026-12-15", "known_at": before_second["recorded_at"]},
    )
    assert known_then.json()["span_id"] == before_second["span_id"]
    history = (await http.get(f"{base}/members/{ended}/coverage/history")).json()
    assert [(h["end_date"], h["in_effect"]) for h in history] == [(None, False), ("2026-11-30", True)]


async def test_a_malformed_834_names_segment_and_position_and_loads_nothing(stack: Stack, http):
    base = stack.url("eligibility")
    good, bad = members(2)
    text = file_of(
        MemberMaintenance(good, ADD, "MCAL-ALA", date(2026, 11, 1)),
        MemberMaintenance(bad, ADD, "MCAL-ALA", date(2026, 11, 1)),
    ).replace("DTP*348*D8*20261101~\nSE", "DTP*348*D8*20261131~\nSE")
    refused = await http.post(f"{base}/x12/834", content=text, headers=X12)
    assert refused.status_code == 422, refused.text
    [error] = refused.json()["detail"]
    # The second member loop's DTP*348 is segment 14 of the transaction set, line 16 of the file.
    assert (error["segment"], error["field"], error["position"], error["line"]) == ("DTP", "DTP03", 14, 16)
    assert "invalid date" in error["reason"]
    assert "nothing was loaded" in refused.json()["message"]
    untouched = await http.get(f"{base}/members/{good}/coverage", params={"on": "2026-11-15"})
    assert untouched.status_code == 404


async def test_a_big_834_is_checked_in_one_pass_and_a_malformed_one_loads_nothing(stack: Stack, http):
    base = stack.url("eligibility")
    ids = members(3000)
    loops = [MemberMaintenance(m, ADD, "MCAL-ALA", date(2026, 11, 1)) for m in ids]
    # The last member loop's coverage date is 31 November: segment 15,004 of the set.
    bad = file_of(*loops).replace("DTP*348*D8*20261101~\nSE", "DTP*348*D8*20261131~\nSE")
    refused = await http.post(f"{base}/x12/834", content=bad, headers=X12)
    assert refused.status_code == 422, refused.text
    [error] = refused.json()["detail"]
    assert (error["segment"], error["field"], error["position"], error["line"]) == (
        "DTP",
        "DTP03",
        15004,
        15006,
    )
    assert (
        await http.get(f"{base}/members/{ids[0]}/coverage", params={"on": "2026-11-15"})
    ).status_code == 404

    loaded = await http.post(f"{base}/x12/834", content=file_of(*loops), headers=X12)
    assert loaded.status_code == 200, loaded.text
    assert loaded.json()["validated_by"] == "rules 2026.1 (834.5010.X220.A1.xml)"
    assert (loaded.json()["members"], loaded.json()["spans_added"]) == (3000, 3000)
    covered = await http.get(f"{base}/members/{ids[-1]}/coverage", params={"on": "2026-11-15"})
    assert covered.json()["plan_id"] == "medi-cal-alameda"


async def test_an_834_that_contradicts_coverage_in_effect_is_refused_with_the_span(stack: Stack, http):
    base = stack.url("eligibility")
    [member] = members(1)
    loaded = await http.post(
        f"{base}/x12/834",
        content=file_of(MemberMaintenance(member, ADD, "MCAL-ALA", date(2026, 11, 1))),
        headers=X12,
    )
    assert loaded.status_code == 200, loaded.text
    span = (await http.get(f"{base}/members/{member}/coverage", params={"on": "2026-11-01"})).json()
    clash = await http.post(
        f"{base}/x12/834",
        content=file_of(MemberMaintenance(member, ADD, "COMM-BAY", date(2027, 1, 1))),
        headers=X12,
    )
    assert clash.status_code == 422
    [error] = clash.json()["detail"]
    assert (error["segment"], error["position"]) == ("INS", 5)
    assert span["span_id"] in error["reason"]


async def test_x12_must_be_sent_as_x12(stack: Stack, http):
    refused = await http.post(
        f"{stack.url('eligibility')}/x12/834", content="ISA*", headers={"content-type": "application/json"}
    )
    assert refused.status_code == 415


async def test_a_270_from_a_clearinghouse_gets_a_271_with_the_registrys_answer(stack: Stack, http):
    base = stack.url("eligibility")
    [member] = members(1)
    loaded = await http.post(
        f"{base}/x12/834",
        content=file_of(MemberMaintenance(member, ADD, "MAPD-ALA", date(2026, 11, 1), date(2026, 12, 31))),
        headers=X12,
    )
    assert loaded.status_code == 200, loaded.text
    inquiry = INQUIRY_5010.replace("M-COVERED", member)
    answered = await http.post(f"{base}/x12/270", content=inquiry, headers=X12)
    assert answered.status_code == 200, answered.text
    assert answered.headers["content-type"].startswith("application/edi-x12")
    read_envelope_checked(answered.text)
    assert "EB*1*IND*30*HN*medicare-advantage-alameda~" in answered.text.splitlines()
    assert "AAA*Y**75*C~" in answered.text.splitlines()

    after_end = await http.post(
        f"{base}/x12/270", content=INQUIRY_4010.replace("M-COVERED", member), headers=X12
    )
    assert after_end.status_code == 200, after_end.text
    read_validated(after_end.text)
    assert "EB*6*IND*30~" in after_end.text.splitlines()

    broken = await http.post(f"{base}/x12/270", content=inquiry.replace("SE*16*", "SE*15*"), headers=X12)
    assert broken.status_code == 422
    assert broken.json()["detail"][0]["segment"] == "SE"
