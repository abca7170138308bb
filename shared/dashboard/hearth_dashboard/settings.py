"""The dashboard's configuration from the environment (`HEARTH_` prefix), validated at start-up.

The dashboard needs no database: only the broker (to read and replay dead letters), the base
URL of every service it watches, and the identity provider that vouches for its callers (the same
`HEARTH_AUTH_*` settings as the services, so one token works for both).
"""

from functools import lru_cache

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from hearth_platform.settings import Settings

DEFAULT_SERVICES = (
    "referral=http://127.0.0.1:8001,eligibility=http://127.0.0.1:8002,"
    "billing=http://127.0.0.1:8003,quality=http://127.0.0.1:8004"
)


def parse_services(spec: str) -> dict[str, str]:
    """`name=url,name=url` into {name: url without trailing slash}, in the order given."""
    services: dict[str, str] = {}
    for item in spec.split(","):
        item = item.strip()
        if not item:
            continue
        name, sep, url = item.partition("=")
        name, url = name.strip(), url.strip().rstrip("/")
        if not sep or not name or not url.startswith(("http://", "https://")):
            raise ValueError(f"expected name=http(s)://host:port, got {item!r}")
        if name in services:
            raise ValueError(f"service {name!r} is named twice")
        services[name] = url
    if not services:
        raise ValueError("names no service")
    return services


class DashboardSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="HEARTH_", extra="ignore")

    kafka_bootstrap: str = "127.0.0.1:9092"
    # Kept as the raw `name=url,...` string (pydantic-settings would read a dict as JSON);
    # `services` gives the parsed form.
    dashboard_services: str = DEFAULT_SERVICES
    # Each scrape of a service's /health and /metrics gives up after this long, so one stuck
    # service cannot stall the page.
    dashboard_scrape_timeout_s: float = Field(default=2.0, gt=0)
    # Rates are averaged over the samples of this window: smooth enough to read, short enough
    # to move while you watch.
    dashboard_rate_window_s: float = Field(default=6.0, gt=0)
    # Reading a dead-letter topic is bounded in records (the newest ones) and in time.
    dashboard_dead_letters_max: int = Field(default=200, ge=1, le=5000)
    dashboard_kafka_timeout_s: float = Field(default=5.0, gt=0)
    # Bearer tokens, as the services check them (hearth_platform.settings.Settings): the identity
    # provider's JWKS, the issuer and audience every token names, and each client's budget.
    auth_jwks_url: str | None = None
    auth_issuer: str = "hearth-dev"
    auth_audience: str = "hearth"
    rate_limit_per_s: float = Field(default=200.0, gt=0)
    rate_limit_burst: int = Field(default=400, ge=1)

    @field_validator("dashboard_services")
    @classmethod
    def _valid_services(cls, value: str) -> str:
        parse_services(value)
        return value

    @property
    def services(self) -> dict[str, str]:
        return parse_services(self.dashboard_services)

    def auth_settings(self) -> Settings:
        """The platform settings hearth_platform.auth.Authenticator reads, from the dashboard's own
        (already validated: no second read of the environment)."""
        return Settings.model_construct(
            auth_jwks_url=self.auth_jwks_url,
            auth_issuer=self.auth_issuer,
            auth_audience=self.auth_audience,
            rate_limit_per_s=self.rate_limit_per_s,
            rate_limit_burst=self.rate_limit_burst,
        )


@lru_cache
def get_settings() -> DashboardSettings:
    return DashboardSettings()
