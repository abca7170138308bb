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
        "example", metadata, PlatformTables(metadata), Path("."), read_scope="ops:read", write_scope="ops:read"
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
