import pytest
from pydantic import ValidationError

from hearth_dashboard.settings import DashboardSettings, parse_services
from hearth_platform.settings import Settings


def test_services_default_to_the_four_devstack_ports(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("HEARTH_DASHBOARD_SERVICES", raising=False)

    assert DashboardSettings().services == {
        "referral": "http://127.0.0.1:8001",
        "eligibility": "http://127.0.0.1:8002",
        "billing": "http://127.0.0.1:8003",
        "quality": "http://127.0.0.1:8004",
    }


def test_services_come_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HEARTH_DASHBOARD_SERVICES", " referral=http://referral:8000/ , billing=https://b ")
    monkeypatch.setenv("HEARTH_KAFKA_BOOTSTRAP", "kafka:9092")

    settings = DashboardSettings()

    assert settings.services == {"referral": "http://referral:8000", "billing": "https://b"}
    assert settings.kafka_bootstrap == "kafka:9092"


@pytest.mark.parametrize("spec", ["", "referral", "referral=ftp://x", "a=http://x,a=http://y", "=http://x"])
def test_a_malformed_service_list_is_refused(spec: str) -> None:
    with pytest.raises(ValueError):
        parse_services(spec)


def test_a_malformed_service_list_stops_start_up(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HEARTH_DASHBOARD_SERVICES", "referral")

    with pytest.raises(ValidationError):
        DashboardSettings()


def test_tokens_are_checked_as_the_services_check_them(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in (
        "HEARTH_AUTH_ISSUER",
        "HEARTH_AUTH_AUDIENCE",
        "HEARTH_RATE_LIMIT_PER_S",
        "HEARTH_RATE_LIMIT_BURST",
    ):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HEARTH_AUTH_JWKS_URL", "https://idp.example/jwks.json")

    auth = DashboardSettings().auth_settings()

    assert (auth.auth_jwks_url, auth.auth_issuer, auth.auth_audience) == (
        "https://idp.example/jwks.json",
        "hearth-dev",
        "hearth",
    )
    services = Settings()
    assert (auth.auth_issuer, auth.auth_audience, auth.rate_limit_per_s, auth.rate_limit_burst) == (
        services.auth_issuer,
        services.auth_audience,
        services.rate_limit_per_s,
        services.rate_limit_burst,
    )
