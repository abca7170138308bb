"""The demo's HTTP side: one client per organization taking part (the plan, its care managers,
the ACO, two EHRs, the provider organizations), each with its own token and so its own request
budget, as in production; retries where a real integration would (429 with Retry-After, a
connection reset), and a clear stop on anything else."""

import asyncio
from collections.abc import Awaitable, Iterable
from typing import Any, TypeVar

import httpx

from hearth_devstack.tokens import bearer_headers

T = TypeVar("T")
PROVIDER_SCOPES = [
    "referral:read",
    "referral:write",
    "eligibility:read",
    "eligibility:write",
    "billing:read",
    "quality:read",
    "quality:write",
]


class DemoError(Exception):
    """A service refused something the demo expected to work; the message says what."""


class Api:
    def __init__(self, urls: dict[str, str], concurrency: int = 48) -> None:
        self.urls = urls
        self._clients: dict[str, httpx.AsyncClient] = {}
        self._limit = asyncio.Semaphore(concurrency)
        self.retried_errors = 0  # 500s answered to a request that was then sent again

    def client(self, who: str, org: str = "plan", org_type: str = "plan") -> httpx.AsyncClient:
        if who not in self._clients:
            scopes = None if org_type == "plan" else PROVIDER_SCOPES
            headers = bearer_headers(client=f"hearth-demo-{who}", org=org, org_type=org_type, scopes=scopes)
            self._clients[who] = httpx.AsyncClient(
                timeout=600, headers=headers, limits=httpx.Limits(max_connections=16)
            )
        return self._clients[who]

    def plan(self) -> httpx.AsyncClient:
        return self.client("plan")

    def org(self, org_id: str, org_type: str = "provider") -> httpx.AsyncClient:
        return self.client(org_id, org_id, org_type)

    async def send(
        self,
        client: httpx.AsyncClient,
        method: str,
        service: str,
        path: str,
        *,
        expect: Iterable[int] = (200, 201),
        retry_errors: bool = False,
        **kwargs: Any,
    ) -> httpx.Response:
        """The answer, when its status is expected. `retry_errors`: a 500 is sent again (up to
        three times), for requests that are safe to repeat (reads, idempotent imports)."""
        expected = set(expect)
        errors = 0
        async with self._limit:
            for attempt in range(60):
                try:
                    response = await client.request(method, f"{self.urls[service]}{path}", **kwargs)
                except (httpx.ConnectError, httpx.RemoteProtocolError, httpx.ReadError):
                    if attempt >= 5:
                        raise
                    await asyncio.sleep(0.5 * (attempt + 1))
                    continue
                if response.status_code == 429:
                    await asyncio.sleep(float(response.headers.get("retry-after", "0.2") or 0.2))
                    continue
                if response.status_code in expected:
                    return response
                if (retry_errors or method == "GET") and response.status_code == 500 and errors < 3:
                    errors += 1
                    self.retried_errors += 1
                    await asyncio.sleep(errors)
                    continue
                raise DemoError(
                    f"{method} {service}{path.split('?')[0]} answered {response.status_code}: "
                    f"{response.text[:400]}"
                )
        raise DemoError(f"{method} {service}{path}: still rate limited after 60 attempts")

    async def close(self) -> None:
        await asyncio.gather(*(c.aclose() for c in self._clients.values()))


async def bounded(jobs: list[Awaitable[T]], bar: Any = None) -> list[T]:
    """Run the jobs together (the Api's semaphore bounds them), ticking `bar` as each ends."""

    async def one(job: Awaitable[T]) -> T:
        result = await job
        if bar is not None:
            bar.update(1)
        return result

    return list(await asyncio.gather(*(one(j) for j in jobs)))
