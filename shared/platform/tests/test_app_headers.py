"""What every service's responses carry, whatever the route: security headers, and no CORS
unless an operator allows an origin."""

from pathlib import Path

from fastapi.testclient import TestClient
from sqlalchemy import MetaData

from hearth_platform.app import ServiceDefinition, create_app
from hearth_platform.settings import Settings
from hearth_platform.tables import PlatformTables


def app(**settings: object) -> TestClient:
    metadata = MetaData(schema="example")
    definition = ServiceDefinition(
        "example",
        metadata,
        PlatformTables(metadata),
        Path("."),
        read_scope="ops:read",
        write_scope="ops:read",
    )
    # Not entered as a context manager: no lifespan, so no database is needed for /health/live.
    return TestClient(create_app(definition, Settings(**settings)))


def test_responses_carry_security_headers():
    response = app().get("/health/live")
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["x-frame-options"] == "DENY"
    assert response.headers["cache-control"] == "no-store"
    assert "default-src 'none'" in response.headers["content-security-policy"]


def test_cors_is_off_unless_an_origin_is_allowed():
    origin = {"origin": "https://portal.example.org"}
    assert "access-control-allow-origin" not in app().get("/health/live", headers=origin).headers
    allowed = app(cors_origins=["https://portal.example.org"]).get("/health/live", headers=origin)
    assert allowed.headers["access-control-allow-origin"] == "https://portal.example.org"


def body_echo() -> TestClient:
    from fastapi import FastAPI, Request

    from hearth_platform.app import RequestContext
    from hearth_platform.errors import add_exception_handlers

    plain = FastAPI()
    add_exception_handlers(plain)
    plain.add_middleware(RequestContext, service="example", max_bytes=1024, bulk_paths={"/bulk": 4096})

    @plain.post("/small")
    @plain.post("/bulk")
    async def echo(request: Request) -> dict[str, int]:
        return {"bytes": len(await request.body())}

    return TestClient(plain)


def chunks(n: int):
    for _ in range(n):
        yield b"x" * 512


def test_a_chunked_body_over_the_limit_is_413_like_a_declared_one():
    client = body_echo()
    assert client.post("/small", content=b"x" * 2048).status_code == 413
    assert client.post("/small", content=chunks(4)).status_code == 413
    assert client.post("/small", content=chunks(2)).json() == {"bytes": 1024}


def test_a_bulk_path_takes_more_up_to_its_own_limit():
    client = body_echo()
    assert client.post("/bulk", content=chunks(8)).json() == {"bytes": 4096}
    assert client.post("/bulk", content=chunks(9)).status_code == 413


def test_a_service_route_never_shadows_the_operational_endpoints():
    from fastapi import APIRouter

    router = APIRouter()

    @router.get("/{anything}")
    async def anything(anything: str) -> dict[str, str]:
        return {"anything": anything}

    metadata = MetaData(schema="example")
    definition = ServiceDefinition(
        "example",
        metadata,
        PlatformTables(metadata),
        Path("."),
        routers=[router],
        read_scope="ops:read",
        write_scope="ops:read",
    )
    client = TestClient(create_app(definition, Settings()))
    metrics = client.get("/metrics")  # matched by `/{anything}` too: the operational one answers
    assert metrics.status_code == 200
    assert "hearth_http_requests_total" in metrics.text
    assert client.get("/something").status_code == 401  # the service's route, guarded
