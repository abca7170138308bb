"""The fault suite's own system: its own embedded Postgres and broker and the four services as
separate processes on free ports, so the faults (a frozen broker, a restarted database, killed
services, poison on the topics) never reach the tests that use the session's `stack`. The fixtures
are package-scoped: the system stops when the last fault test is done, not at the end of the run.

Size: `HEARTH_FAULTS=bounded` (the default, what `make test` runs: small load, 5 s outages) or
`HEARTH_FAULTS=full` (`make faults`: more load, the broker away for 30 s).
"""

import os
from collections.abc import AsyncIterator, Iterator

import httpx
import pytest

from hearth_devstack.stack import find_root
from hearth_devstack.testing import Infra, embedded_infra
from hearth_devstack.tokens import bearer_headers

from ..stack import Stack
from .driver import Driver
from .poison import Poison
from .sizes import SIZES, FaultSize


@pytest.fixture(scope="session")
def fault_size() -> FaultSize:
    name = os.environ.get("HEARTH_FAULTS", "bounded")
    if name not in SIZES:
        pytest.fail(f"HEARTH_FAULTS={name!r}: expected one of {', '.join(SIZES)}", pytrace=False)
    return SIZES[name]


@pytest.fixture(scope="package")
def fault_infra(request: pytest.FixtureRequest) -> Iterator[Infra]:
    """Always embedded, whatever HEARTH_TEST_INFRA says: the faults need the processes in hand."""
    yield from embedded_infra(find_root(request.config.rootpath))


@pytest.fixture(scope="package")
async def fault_stack(fault_infra: Infra, tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Stack]:
    system = Stack(fault_infra, tmp_path_factory.mktemp("fault-service-logs"))
    try:
        await system.start_tap()
        await system.start_all()
        yield system
    finally:
        system.stop_all()
        await system.close()


@pytest.fixture(scope="package")
async def fault_http() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(timeout=15, headers=bearer_headers(client="plan-admin")) as client:
        yield client


@pytest.fixture(scope="package")
def driver(fault_stack: Stack, fault_http: httpx.AsyncClient, fault_size: FaultSize) -> Driver:
    """One driver for the session: its loads are the model every invoice is checked against."""
    return Driver(fault_stack, fault_http, fault_size.call_deadline_s)


@pytest.fixture(scope="package")
def poison() -> list[Poison]:
    """Every poison injected this session: each dead-letter topic must hold exactly its share."""
    return []
