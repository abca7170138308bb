"""`hearth month close YYYY-MM` against the running billing service, as an operator runs it.

Month closes are global; like test_billing.py this test uses a month of its own (2022-05) before
anything later tests close, and ends every enrolment it opens.
"""

import asyncio
import sys
from datetime import date

from .stack import Stack
from .test_billing import assessed, disenrolled, enrolled, ledger_when, new_id


async def run_cli(*args: str) -> tuple[int, str, str]:
    cli = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "hearth_devstack.cli",
        *args,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(cli.communicate(), 120)
    assert cli.returncode is not None
    return cli.returncode, out.decode(), err.decode()


def invoice_rows(out: str, *orgs: str) -> list[list[str]]:
    """The printed invoice table's rows of these organizations: organization, lines, total."""
    return sorted(
        line.split()[:3] for line in out.splitlines() if line.split()[:1] and line.split()[0] in orgs
    )


async def test_hearth_month_close_closes_the_month_and_prints_each_organizations_invoice(stack: Stack, http):
    billing = stack.url("billing")
    org_a, org_b = new_id("org"), new_id("org")
    stays, declines, high = new_id("M"), new_id("M"), new_id("M")
    await stack.publish(enrolled(stays, org_a, "moderate", date(2022, 5, 3)))
    await stack.publish(disenrolled(stays, org_a, date(2022, 6, 1)))
    await stack.publish(assessed(declines, org_a, date(2022, 5, 10)))
    await stack.publish(enrolled(high, org_b, "high", date(2022, 5, 20)))
    await stack.publish(disenrolled(high, org_b, date(2022, 6, 1)))
    for member, ready in (
        (stays, lambda lg: [s["to"] for s in lg["enrolment_spans"]] == ["2022-05-31"]),
        (declines, lambda lg: len(lg["assessment_fees"]) == 1),
        (high, lambda lg: [s["to"] for s in lg["enrolment_spans"]] == ["2022-05-31"]),
    ):
        await ledger_when(http, stack, member, ready)

    code, out, err = await run_cli("month", "close", "2022-05", "--url", billing)
    assert code == 0, err[-2000:]
    assert out.startswith("2022-05 closed:")
    # org A: 400.00 PMPM (moderate) + 325.00 assessment fee; org B: 600.00 PMPM (high)
    assert invoice_rows(out, org_a, org_b) == sorted([[org_a, "2", "725.00"], [org_b, "1", "600.00"]])
    assert "closing 2022-05" in err, "the progress bar is drawn on stderr"
    assert (await http.get(f"{billing}/months/2022-05")).json()["status"] == "closed"

    code, again, err = await run_cli("month", "close", "2022-05", "--url", billing, "--lines")
    assert code == 0, err[-2000:]
    assert again.startswith("2022-05 was already closed:")
    assert invoice_rows(again, org_a, org_b) == invoice_rows(out, org_a, org_b)
    assert any(stays in line and "pmpm" in line and "400.00" in line for line in again.splitlines())


async def test_hearth_month_close_reports_a_refused_close_and_a_malformed_month(stack: Stack, http):
    billing = stack.url("billing")
    member = new_id("M")
    await stack.publish(assessed(member, new_id("org"), date(2022, 7, 14)))
    await ledger_when(http, stack, member, lambda lg: len(lg["assessment_fees"]) == 1)

    code, out, err = await run_cli("month", "close", "2022-08", "--url", billing)
    assert code == 1 and out == ""
    assert "409" in err and "2022-07" in err and "close them first" in err
    assert (await http.get(f"{billing}/months/2022-08")).json()["status"] == "open"
    for month in ("2022-07", "2022-08"):
        code, _, err = await run_cli("month", "close", month, "--url", billing)
        assert code == 0, err[-2000:]

    code, _, err = await run_cli("month", "close", "2022-13", "--url", billing)
    assert code == 2 and "is not a month written YYYY-MM" in err
    code, _, err = await run_cli("month", "close", "2022-09", "--url", "http://127.0.0.1:9")
    assert code == 1 and "cannot reach billing" in err
