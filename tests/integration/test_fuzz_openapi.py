"""Fuzzing every service's OpenAPI spec with schemathesis: no input gives a 5xx.

Each service is fuzzed as its own deployment: a fresh database, and the relay off so that what
the fuzzer writes stays in that deployment's outbox and never reaches the topics the other tests
read. It calls as the plan's administrator (tests/integration/authz covers who may call what).
The seed is fixed so that CI is reproducible; `HEARTH_FUZZ_SEED` and `HEARTH_FUZZ_EXAMPLES`
explore further by hand.
"""

import asyncio
import os
import sys
from pathlib import Path

import pytest

from hearth_devstack.services import wait_healthy_async
from hearth_devstack.tokens import bearer_headers

from .stack import SERVICES, Stack, free_port

SCHEMATHESIS = Path(sys.executable).parent / "schemathesis"


@pytest.mark.parametrize("service", SERVICES)
async def test_no_input_to_the_api_gives_a_server_error(stack: Stack, service: str, tmp_path: Path):
    port = free_port()
    proc = stack.start(
        service, port=port, database_url=await stack.isolated_database(), HEARTH_RELAY_ENABLED="false"
    )
    base = f"http://127.0.0.1:{port}"
    try:
        await wait_healthy_async([f"{base}/health"], 90)
        fuzz = await asyncio.create_subprocess_exec(
            str(SCHEMATHESIS),
            "run",
            f"{base}/openapi.json",
            "--checks=not_a_server_error",
            f"--max-examples={os.environ.get('HEARTH_FUZZ_EXAMPLES', '30')}",
            f"--seed={os.environ.get('HEARTH_FUZZ_SEED', '20261123')}",
            # One worker: hypothesis parses lambda sources with ast, which is not thread-safe on
            # CPython 3.11 ("AST constructor recursion depth mismatch" under two workers).
            "--workers=1",
            "--generation-database=none",
            "--no-color",
            # As the plan's administrator: every scope, so the fuzzer reaches every route's logic.
            f"--header=Authorization: {bearer_headers(client='fuzzer')['authorization']}",
            cwd=tmp_path,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
        )
        output, _ = await asyncio.wait_for(fuzz.communicate(), 600)
    finally:
        stack.kill(proc)
    report = output.decode(errors="replace")
    failures = report.find("FAILURES")
    assert fuzz.returncode == 0, report[failures:][:6000] if failures >= 0 else report[-6000:]
