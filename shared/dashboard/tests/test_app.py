import json
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from hearth_dashboard.app import ASYNCAPI, create_app
from hearth_dashboard.settings import DashboardSettings
from hearth_devstack.tokens import jwks_url, mint

API_ROUTES = [
    ("GET", "/api/overview"),
    ("GET", "/api/dead-letters/referral"),
    ("POST", "/api/dead-letters/referral/replay"),
]
REPLAY = {"partition": 0, "offset": 0}


@pytest.fixture
def keys(tmp_path: Path) -> Path:
    return tmp_path / "auth"


def settings_for(keys: Path) -> DashboardSettings:
    # Nothing listens on these ports: the dashboard must still answer.
    return DashboardSettings(
        dashboard_services="referral=http://127.0.0.1:9,billing=http://127.0.0.1:9",
        kafka_bootstrap="127.0.0.1:9",
        dashboard_scrape_timeout_s=0.5,
        dashboard_kafka_timeout_s=0.5,
        auth_jwks_url=jwks_url(keys),
    )


def bearer(keys: Path, org_type: str = "plan", scopes: tuple[str, ...] = ("ops:read",)) -> dict[str, str]:
    token = mint(keys, client="ops-console", org=f"{org_type}-1", org_type=org_type, scopes=list(scopes))
    return {"authorization": f"Bearer {token}"}


@pytest.fixture
async def anonymous(keys: Path) -> AsyncIterator[httpx.AsyncClient]:
    """A client that sends no token; tests add the headers of the caller they play."""
    app = create_app(settings_for(keys))
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://dashboard") as c:
            yield c


@pytest.fixture
async def client(anonymous: httpx.AsyncClient, keys: Path) -> httpx.AsyncClient:
    """The plan's operator, with ops:read."""
    anonymous.headers.update(bearer(keys))
    return anonymous


async def test_health_answers_while_every_watched_service_is_down(client: httpx.AsyncClient) -> None:
    assert (await client.get("/health")).json() == {"status": "ok", "service": "dashboard"}
    overview = (await client.get("/api/overview")).json()
    assert [(s["name"], s["status"]) for s in overview["services"]] == [
        ("referral", "unreachable"),
        ("billing", "unreachable"),
    ]


async def test_the_page_loads_its_own_script_and_style_only_and_needs_no_token(
    anonymous: httpx.AsyncClient,
) -> None:
    page = await anonymous.get("/")

    assert page.headers["content-type"].startswith("text/html")
    assert '<script src="/static/dashboard.js"' in page.text
    assert "http" not in page.text.replace('href="/', "")
    assert "default-src 'self'" in page.headers["content-security-policy"]
    assert (await anonymous.get("/static/dashboard.js")).status_code == 200
    assert (await anonymous.get("/health")).status_code == 200


async def test_the_asyncapi_document_is_served_as_checked_in_without_a_token(
    anonymous: httpx.AsyncClient,
) -> None:
    served = (await anonymous.get("/asyncapi.json")).json()

    assert served == json.loads(ASYNCAPI.read_text())
    assert served["asyncapi"].startswith("3.")


async def test_dead_letters_of_a_service_the_dashboard_does_not_watch_are_not_found(
    client: httpx.AsyncClient,
) -> None:
    response = await client.get("/api/dead-letters/payroll")

    assert response.status_code == 404
    assert response.json()["error"] == "not_found"


async def test_an_unreachable_broker_answers_503_rather_than_hanging(client: httpx.AsyncClient) -> None:
    response = await client.post("/api/dead-letters/referral/replay", json=REPLAY)

    assert response.status_code == 503
    assert response.json()["error"] == "broker_unavailable"


@pytest.mark.parametrize(("method", "path"), API_ROUTES)
async def test_every_api_route_without_a_token_is_401_with_a_bearer_challenge(
    anonymous: httpx.AsyncClient, method: str, path: str
) -> None:
    response = await anonymous.request(method, path, json=REPLAY if method == "POST" else None)

    assert response.status_code == 401
    assert response.json()["error"] == "unauthenticated"
    assert response.headers["www-authenticate"].startswith("Bearer")
    assert response.headers["cache-control"] == "no-store"


async def test_a_token_from_another_key_set_is_401(anonymous: httpx.AsyncClient, tmp_path: Path) -> None:
    response = await anonymous.get("/api/overview", headers=bearer(tmp_path / "impostor"))

    assert response.status_code == 401


@pytest.mark.parametrize(("method", "path"), API_ROUTES)
async def test_every_api_route_with_a_token_lacking_ops_read_is_403(
    anonymous: httpx.AsyncClient, keys: Path, method: str, path: str
) -> None:
    headers = bearer(keys, scopes=("referral:read", "billing:admin"))

    response = await anonymous.request(
        method, path, json=REPLAY if method == "POST" else None, headers=headers
    )

    assert response.status_code == 403
    assert response.json()["message"] == "the token does not grant the scope ops:read"


async def test_a_provider_with_ops_read_sees_the_overview_but_may_not_replay(
    anonymous: httpx.AsyncClient, keys: Path
) -> None:
    provider = bearer(keys, org_type="provider")

    assert (await anonymous.get("/api/overview", headers=provider)).status_code == 200
    response = await anonymous.post("/api/dead-letters/referral/replay", json=REPLAY, headers=provider)

    assert response.status_code == 403
    assert response.json()["message"] == "replaying a dead letter is for the plan's operators"


async def test_the_dashboard_does_not_start_without_an_identity_provider(keys: Path) -> None:
    app = create_app(settings_for(keys).model_copy(update={"auth_jwks_url": None}))

    with pytest.raises(RuntimeError, match="HEARTH_AUTH_JWKS_URL"):
        async with app.router.lifespan_context(app):
            pass
