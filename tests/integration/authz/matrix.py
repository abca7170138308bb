"""Runs a service's access cases: A's client reaches A's data, B's client does not."""

import httpx

from ..stack import Stack
from .access import ORG_A, ORG_B, Case, client_of


async def check(stack: Stack, service: str, case: Case, admin: httpx.AsyncClient) -> None:
    request = await case.setup(admin, stack.url(service))
    async with client_of(ORG_A) as a, client_of(ORG_B) as b:
        own = await request.send(a)
        other = await request.send(b)
    where = f"{case.method} {case.path}"
    assert own.status_code in case.a_gets, f"{where}: A's own client got {own.status_code}: {own.text[:300]}"
    assert case.b_gets(other), f"{where}: B's client got {other.status_code}: {other.text[:300]}"
