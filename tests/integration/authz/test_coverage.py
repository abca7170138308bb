"""Every endpoint of every service is in the access matrix, and none answers without a valid
token or without its scope."""

import importlib
import re

import httpx
import pytest

from ..stack import SERVICES, Stack
from .access import OPERATIONAL, client_of


def endpoints(spec: dict) -> set[tuple[str, str]]:
    return {(method.upper(), path) for path, item in spec["paths"].items() for method in item}


async def spec_of(http: httpx.AsyncClient, stack: Stack, service: str) -> dict:
    response = await http.get(f"{stack.url(service)}/openapi.json")
    assert response.status_code == 200
    return response.json()


@pytest.mark.parametrize("service", SERVICES)
async def test_every_endpoint_has_a_case_in_the_access_matrix(stack: Stack, http, service):
    cases = importlib.import_module(f"tests.integration.authz.test_{service}_access").CASES
    declared = {case.key for case in cases}
    served = endpoints(await spec_of(http, stack, service)) - OPERATIONAL
    assert served - declared == set(), "endpoints without an access case"
    assert declared - served == set(), "access cases for endpoints that no longer exist"


@pytest.mark.parametrize("service", SERVICES)
async def test_no_endpoint_answers_without_a_valid_token_or_without_its_scope(stack: Stack, http, service):
    base = stack.url(service)
    scopeless = client_of("org-any", client="no-scopes")
    scopeless.headers["authorization"] = "Bearer " + _token_without_scopes()
    async with httpx.AsyncClient(timeout=20) as anonymous, scopeless:
        for method, path in sorted(endpoints(await spec_of(http, stack, service)) - OPERATIONAL):
            url = base + re.sub(r"\{[^}]+\}", "X-1", path)
            response = await anonymous.request(method, url)
            assert response.status_code == 401, f"{method} {path} without a token: {response.status_code}"
            response = await scopeless.request(method, url)
            assert response.status_code == 403, f"{method} {path} without the scope: {response.status_code}"
        forged = await anonymous.request("GET", base + "/audit", headers={"authorization": "Bearer x.y.z"})
        assert forged.status_code == 401


def _token_without_scopes() -> str:
    from hearth_devstack.tokens import dev_keys_dir, mint

    return mint(dev_keys_dir(), client="no-scopes", org="org-any", org_type="provider", scopes=[])
