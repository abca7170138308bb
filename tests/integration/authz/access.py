"""The access matrix: every endpoint of every service, called by clients of two organizations.

Each service's test module declares one `Case` per endpoint (method and OpenAPI path). A case
knows how to make a resource that belongs to organization A (through the plan's administrator),
which request reaches it, and what organization B's client must get instead: 403 or 404 for a
single resource, a list without A's items for a search. `test_every_endpoint_has_a_case` fails
when an endpoint is added without one.
"""

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import httpx

from hearth_devstack.tokens import bearer_headers

ORG_A = "org-access-a"
ORG_B = "org-access-b"
ACO_A = "aco-access-a"

#: Endpoints every service has that carry no member data, or are checked elsewhere.
OPERATIONAL = {("GET", "/health"), ("GET", "/health/live"), ("GET", "/metrics"), ("GET", "/audit")}


def client_of(org: str, org_type: str = "provider", client: str | None = None) -> httpx.AsyncClient:
    """A client of `org` holding every scope: what it may reach is decided by organization."""
    headers = bearer_headers(client=client or f"client-of-{org}", org=org, org_type=org_type)
    return httpx.AsyncClient(timeout=20, headers=headers)


@dataclass
class Request:
    method: str
    url: str
    json: Any = None
    content: bytes | None = None
    headers: dict[str, str] = field(default_factory=dict)
    params: dict[str, str] = field(default_factory=dict)

    async def send(self, client: httpx.AsyncClient) -> httpx.Response:
        return await client.request(
            self.method,
            self.url,
            json=self.json,
            content=self.content,
            headers=self.headers,
            params=self.params,
        )


#: Given the plan admin's client and the service's base URL, makes what organization A owns and
#: returns the request that reaches it.
Setup = Callable[[httpx.AsyncClient, str], Awaitable[Request]]
#: Given the response organization B's client got, says whether A's data stayed out of it.
Refusal = Callable[[httpx.Response], bool]


def refused(response: httpx.Response) -> bool:
    return response.status_code in (403, 404)


def without(marker: str) -> Refusal:
    """For lists and reports: B gets an answer, but nothing of A's (A's member or id is absent)."""

    def check(response: httpx.Response) -> bool:
        return response.status_code in (403, 404) or (
            response.status_code == 200 and marker not in response.text
        )

    return check


@dataclass
class Case:
    method: str
    path: str
    setup: Setup
    # What B must get; `refused` unless the endpoint is a list or report.
    b_gets: Refusal = refused
    # The status A's own client gets (A must not be refused its own data).
    a_gets: tuple[int, ...] = (200, 201)

    @property
    def key(self) -> tuple[str, str]:
        return (self.method, self.path)
