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
