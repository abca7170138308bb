"""Configuration from the environment (`HEARTH_` prefix), validated once at start-up."""

from functools import lru_cache

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="HEARTH_", extra="ignore")

    database_url: str = "postgresql+asyncpg://postgres@127.0.0.1:5432/hearth"
    db_pool_size: int = Field(default=10, ge=1)
    kafka_bootstrap: str = "127.0.0.1:9092"
    # Apache Kafka in production supports the idempotent producer; the embedded Tansu broker
    # does not, so the default is off and production deployments switch it on.
    kafka_idempotence: bool = False
    # Tansu holds JoinGroup for half the session timeout: short values keep dev and tests quick.
    # Production Kafka deployments raise these (e.g. 10000 / 3000).
    kafka_session_timeout_ms: int = Field(default=2000, ge=500)
    kafka_heartbeat_interval_ms: int = Field(default=500, ge=100)
    # The consumer group (default hearth-<service>); a second deployment of a service against
    # another database on the same cluster needs its own.
    consumer_group: str | None = None
    consumer_batch_max: int = Field(default=1000, ge=1)
    consumer_max_attempts: int = Field(default=5, ge=1)
    consumer_retry_backoff_s: float = Field(default=0.2, gt=0)
    # Off lets operators run the relay as its own process (and tests stop a service between its
    # commit and the publish); the rows wait in the outbox until a relay runs.
    relay_enabled: bool = True
    relay_batch_max: int = Field(default=1000, ge=1)
    relay_poll_interval_s: float = Field(default=1.0, gt=0)
    outbox_retention_hours: float = Field(default=24.0, gt=0)
    log_level: str = "INFO"
    max_request_bytes: int = Field(default=1_048_576, ge=1024)
    # Bearer tokens: the identity provider's JWKS (a file:// URL to the dev key set on a dev
    # machine), and the issuer and audience every token must name.
    auth_jwks_url: str | None = None
    auth_issuer: str = "hearth-dev"
    auth_audience: str = "hearth"
    # Per client (the token's subject): requests a second on average, and the burst allowed.
    rate_limit_per_s: float = Field(default=200.0, gt=0)
    rate_limit_burst: int = Field(default=400, ge=1)
    # Browser origins allowed to call the APIs; none by default (integrations are servers).
    cors_origins: list[str] = Field(default_factory=list)


@lru_cache
def get_settings() -> Settings:
    return Settings()
