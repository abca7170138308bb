"""Bearer tokens as a client presents them: checked against the issuer's key set, scope by scope,
and metered per client."""

import time
from pathlib import Path

import jwt
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from hearth_devstack.tokens import ensure_dev_keys, jwks_url, mint
from hearth_platform.auth import Authenticator, Principal, requires
from hearth_platform.errors import add_exception_handlers
from hearth_platform.settings import Settings

ReadReferrals = requires("referral:read")


def api(keys: Path, **settings: object) -> TestClient:
    app = FastAPI()
    add_exception_handlers(app)
    app.state.authenticator = Authenticator(Settings(auth_jwks_url=jwks_url(keys), **settings))

    @app.get("/referrals")
    async def referrals(caller: ReadReferrals) -> dict[str, str]:
        return {"client": caller.client, "org": caller.org}

    return TestClient(app)


def bearer(keys: Path, scopes: list[str], **claims: object) -> dict[str, str]:
    args = {"client": "ehr-1", "org": "org-a", "org_type": "provider", **claims}
    return {"authorization": f"Bearer {mint(keys, scopes=scopes, **args)}"}  # type: ignore[arg-type]


def test_a_token_with_the_scope_reaches_the_route_as_its_client_and_org(tmp_path):
    client = api(tmp_path)
    response = client.get("/referrals", headers=bearer(tmp_path, ["referral:read"]))
    assert response.status_code == 200
    assert response.json() == {"client": "ehr-1", "org": "org-a"}


def test_no_token_is_401_with_a_bearer_challenge(tmp_path):
    response = api(tmp_path).get("/referrals")
    assert response.status_code == 401
    assert response.headers["www-authenticate"].startswith("Bearer")
    assert response.json()["error"] == "unauthenticated"


def test_a_token_without_the_scope_is_403_naming_the_scope(tmp_path):
    response = api(tmp_path).get("/referrals", headers=bearer(tmp_path, ["billing:read"]))
    assert response.status_code == 403
    assert "referral:read" in response.json()["message"]


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ({"ttl_s": -120}, "expired"),
        ({"audience": "another-api"}, "audience"),
        ({"issuer": "someone-else"}, "issuer"),
    ],
)
def test_expired_or_foreign_tokens_are_401(tmp_path, change, reason):
    response = api(tmp_path).get("/referrals", headers=bearer(tmp_path, ["referral:read"], **change))
    assert response.status_code == 401
    assert reason in response.json()["message"].lower()


def test_a_token_signed_by_another_key_is_401(tmp_path):
    other = tmp_path / "other"
    ensure_dev_keys(tmp_path)
    response = api(tmp_path).get("/referrals", headers=bearer(other, ["referral:read"]))
    assert response.status_code == 401


def test_an_unsigned_token_is_refused(tmp_path):
    ensure_dev_keys(tmp_path)
    claims = {"iss": "hearth-dev", "aud": "hearth", "sub": "x", "org": "o", "org_type": "plan"}
    token = jwt.encode(
        {**claims, "iat": int(time.time()), "exp": int(time.time()) + 60}, None, algorithm="none"
    )
    response = api(tmp_path).get("/referrals", headers={"authorization": f"Bearer {token}"})
    assert response.status_code == 401


def test_a_token_without_org_type_is_refused(tmp_path):
    response = api(tmp_path).get(
        "/referrals", headers=bearer(tmp_path, ["referral:read"], org_type="hospital")
    )
    assert response.status_code == 401
    assert "org_type" in response.json()["message"]


def test_a_client_over_its_budget_gets_429_with_retry_after_and_others_do_not(tmp_path):
    client = api(tmp_path, rate_limit_per_s=1.0, rate_limit_burst=3)
    busy = bearer(tmp_path, ["referral:read"])
    statuses = [client.get("/referrals", headers=busy).status_code for _ in range(4)]
    assert statuses == [200, 200, 200, 429]
    limited = client.get("/referrals", headers=busy)
    assert int(limited.headers["retry-after"]) >= 1
    other = bearer(tmp_path, ["referral:read"], client="aco-7")
    assert client.get("/referrals", headers=other).status_code == 200


def test_the_plan_sees_every_organization_and_a_provider_only_its_own():
    plan = Principal("plan-admin", "plan", "plan", frozenset())
    provider = Principal("ehr-1", "org-a", "provider", frozenset())
    assert plan.sees_org("org-b") and plan.sees_org(None)
    assert provider.sees_org("org-a")
    assert not provider.sees_org("org-b") and not provider.sees_org(None)


def guarded_service(keys: Path) -> tuple[TestClient, list[dict[str, object]]]:
    """A service built by the app factory: its routes guarded by method (read `referral:read`,
    write `referral:write`), one route naming its own scope, and the audit rows it records."""
    from types import SimpleNamespace

    from fastapi import APIRouter, Request, Response
    from sqlalchemy import MetaData

    from hearth_platform.app import ServiceDefinition, create_app
    from hearth_platform.auth import SCOPE_OVERRIDE, caller_of
    from hearth_platform.tables import PlatformTables

    router = APIRouter()

    @router.get("/things/{thing_id}")
    async def read_thing(request: Request) -> Response:  # the hot-route shape: request in, bytes out
        return Response(f'{{"thing":"{request.path_params["thing_id"]}","org":"{caller_of(request).org}"}}')

    @router.post("/things")
    async def write_thing(body: dict[str, int]) -> dict[str, int]:
        return body

    @router.post("/things/search", openapi_extra={SCOPE_OVERRIDE: "referral:read"})
    async def search_things(request: Request) -> Response:
        return Response(b"[]")

    metadata = MetaData(schema="example")
    definition = ServiceDefinition(
        "example",
        metadata,
        PlatformTables(metadata),
        Path("."),
        routers=[router],
        read_scope="referral:read",
        write_scope="referral:write",
    )
    settings = Settings(auth_jwks_url=jwks_url(keys))
    app = create_app(definition, settings)
    rows: list[dict[str, object]] = []
    app.state.authenticator = Authenticator(settings)
    app.state.runtime = SimpleNamespace(
        audit=SimpleNamespace(
            record=lambda principal, **row: rows.append({"client": principal.client, **row})
        )
    )
    return TestClient(app), rows


def test_the_factory_guards_reads_with_the_read_scope_and_writes_with_the_write_scope(tmp_path):
    client, _ = guarded_service(tmp_path)
    reader = bearer(tmp_path, ["referral:read"])
    assert client.get("/things/t-1", headers=reader).json() == {"thing": "t-1", "org": "org-a"}
    assert client.post("/things", json={"n": 1}, headers=reader).status_code == 403
    assert client.post("/things", json={"n": 1}, headers=bearer(tmp_path, ["referral:write"])).json() == {
        "n": 1
    }
    assert client.get("/things/t-1", headers=bearer(tmp_path, ["referral:write"])).status_code == 403


def test_a_route_naming_its_own_scope_is_guarded_by_that_scope(tmp_path):
    client, _ = guarded_service(tmp_path)
    assert client.post("/things/search", headers=bearer(tmp_path, ["referral:read"])).status_code == 200
    refused = client.post("/things/search", headers=bearer(tmp_path, ["referral:write"]))
    assert refused.status_code == 403
    assert "referral:read" in refused.json()["message"]


def test_guarded_routes_refuse_a_missing_token_before_reading_the_request(tmp_path):
    client, rows = guarded_service(tmp_path)
    missing = client.get("/things/t-1")
    assert missing.status_code == 401
    assert missing.headers["www-authenticate"] == 'Bearer error="invalid_token"'
    # Not even a malformed body is looked at without a token.
    assert (
        client.post("/things", content=b"{not json", headers={"content-type": "application/json"}).status_code
        == 401
    )
    assert rows == []


def test_each_authenticated_request_is_one_audit_row_with_its_route_and_status(tmp_path):
    client, rows = guarded_service(tmp_path)
    client.get("/things/t-1", headers=bearer(tmp_path, ["referral:read"]))
    client.post("/things", content=b"{not json", headers=bearer(tmp_path, ["referral:write"]))
    assert [(r["client"], r["method"], r["route"], r["path"], r["status"]) for r in rows] == [
        ("ehr-1", "GET", "/things/{thing_id}", "/things/t-1", 200),
        ("ehr-1", "POST", "/things", "/things", 422),
    ]
