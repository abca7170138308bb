import uuid
from collections.abc import AsyncIterator

import httpx
import pytest

from hearth_devstack.tokens import bearer_headers

from .stack import Stack


@pytest.fixture(scope="session")
async def stack(infra, tmp_path_factory) -> AsyncIterator[Stack]:
    system = Stack(infra, tmp_path_factory.mktemp("service-logs"))
    try:
        await system.start_tap()
        await system.start_all()
        yield system
    finally:
        system.stop_all()
        await system.close()


@pytest.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    """A client of the plan's administrators: every scope, every organization."""
    async with httpx.AsyncClient(timeout=20, headers=bearer_headers(client="plan-admin")) as client:
        yield client


@pytest.fixture
def member_id() -> str:
    return f"M-{uuid.uuid4().hex[:12]}"
