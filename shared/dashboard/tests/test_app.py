import json
from collections.abc import AsyncIterator

import httpx
import pytest

from hearth_dashboard.app import ASYNCAPI, create_app
from hearth_dashboard.settings import DashboardSettings


@pytest.fixture
async def client() -> AsyncIterator[httpx.AsyncClient]:
    # Nothing listens on these ports: the dashboard must still answer.
    settings = DashboardSettings(
        dashboard_services="referral=http://127.0.0.1:9,billing=http://127.0.0.1:9",
        kafka_bootstrap="127.0.0.1:9",
        dashboard_scrape_timeout_s=0.5,
        dashboard_kafka_timeout_s=0.5,
    )
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://dashboard") as c:
            yield c


async def test_health_answers_while_every_watched_service_is_down(client: httpx.AsyncClient) -> None:
    assert (await client.get("/health")).json() == {"status": "ok", "service": "dashboard"}
    overview = (await client.get("/api/overview")).json()
    assert [(s["name"], s["status"]) for s in overview["services"]] == [
        ("referral", "unreachable"),
        ("billing", "unreachable"),
    ]


async def test_the_page_loads_its_own_script_and_style_only(client: httpx.AsyncClient) -> None:
    page = await client.get("/")

    assert page.headers["content-type"].startswith("text/html")
    assert '<script src="/static/dashboard.js"' in page.text
    assert "http" not in page.text.replace('href="/', "")
    assert "default-src 'self'" in page.headers["content-security-policy"]
    assert (await client.get("/static/dashboard.js")).status_code == 200


async def test_the_asyncapi_document_is_served_as_checked_in(client: httpx.AsyncClient) -> None:
    served = (await client.get("/asyncapi.json")).json()

    assert served == json.loads(ASYNCAPI.read_text())
    assert served["asyncapi"].startswith("3.")


async def test_dead_letters_of_a_service_the_dashboard_does_not_watch_are_not_found(
    client: httpx.AsyncClient,
) -> None:
    response = await client.get("/api/dead-letters/payroll")

    assert response.status_code == 404
    assert response.json()["error"] == "not_found"


async def test_an_unreachable_broker_answers_503_rather_than_hanging(client: httpx.AsyncClient) -> None:
    response = await client.post("/api/dead-letters/referral/replay", json={"partition": 0, "offset": 0})

    assert response.status_code == 503
    assert response.json()["error"] == "broker_unavailable"
