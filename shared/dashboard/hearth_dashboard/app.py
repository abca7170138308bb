"""The ops dashboard: one page on port 8000, live from the services' /health and /metrics, with
the dead letters of every service to inspect and replay.

`GET /health` answers 200 while the process runs: the dashboard aggregates, and must stay up to
show which services are down.

The page, its script and style, `/health` and `/asyncapi.json` carry no member data and answer
anyone. Every `/api/` route needs a bearer token with `ops:read` (dead letters name events about
members); replaying one re-publishes a member's event to every consumer, so it is for the plan's
operators only.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from pathlib import Path

import httpx
from fastapi import APIRouter, Depends, FastAPI, Request, Response
from fastapi.responses import FileResponse
from fastapi.staticfiles import StaticFiles

import hearth_schemas
from hearth_platform.auth import Authenticator, CallerDep, Forbidden, Scope
from hearth_platform.errors import NotFound, add_exception_handlers
from hearth_schemas.topics import dead_letter_topic

from .dead_letters import DeadLetters, Replayed, ReplayRequest, read_dead_letters, replay
from .overview import Overview
from .samples import SampleHistory
from .settings import DashboardSettings, get_settings
from .watch import Watch

STATIC = Path(__file__).parent / "static"
ASYNCAPI = Path(hearth_schemas.__file__).parent.parent / "asyncapi.json"

# The page loads only its own script and style, and nothing may frame it.
SECURITY_HEADERS = {
    "Content-Security-Policy": "default-src 'self'; connect-src 'self'; frame-ancestors 'none'",
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
}
DOCS_PATHS = frozenset(("/docs", "/redoc", "/docs/oauth2-redirect"))


def create_app(settings: DashboardSettings | None = None) -> FastAPI:
    config = settings or get_settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        # At start-up, not import: a dashboard without an identity provider must not start.
        app.state.authenticator = Authenticator(config.auth_settings())
        async with httpx.AsyncClient(timeout=config.dashboard_scrape_timeout_s) as client:
            app.state.watch = Watch(config.services, client, SampleHistory(config.dashboard_rate_window_s))
            yield

    app = FastAPI(
        title="hearth dashboard",
        description="Operations: service health, topic rates, consumer lag, dead letters, outbox.",
        version="0.1.0",
        lifespan=lifespan,
    )
    add_exception_handlers(app)

    @app.middleware("http")
    async def security_headers(
        request: Request, call_next: Callable[[Request], Awaitable[Response]]
    ) -> Response:
        response = await call_next(request)
        headers = SECURITY_HEADERS
        if request.url.path in DOCS_PATHS:
            # FastAPI's API explorer loads Swagger UI from its CDN: it needs a looser policy.
            headers = {k: v for k, v in headers.items() if k != "Content-Security-Policy"}
        response.headers.update(headers)
        if request.url.path.startswith("/api/"):
            response.headers["Cache-Control"] = "no-store"
        return response

    def dlq_topic(service: str) -> str:
        if service not in config.services:
            raise NotFound(f"the dashboard watches no service named {service!r}")
        return dead_letter_topic(service)

    @app.get("/health", tags=["operations"])
    async def health() -> dict[str, str]:
        return {"status": "ok", "service": "dashboard"}

    @app.get("/", include_in_schema=False)
    async def page() -> FileResponse:
        return FileResponse(STATIC / "index.html", media_type="text/html")

    @app.get("/asyncapi.json", tags=["documentation"])
    async def asyncapi() -> FileResponse:
        """The AsyncAPI document of every Hearth topic and event (checked in, generated)."""
        return FileResponse(ASYNCAPI, media_type="application/json")

    # Every route under /api, including one added later, needs a token granting ops:read.
    api = APIRouter(prefix="/api", dependencies=[Depends(Scope("ops:read"))])

    @api.get("/overview", tags=["operations"])
    async def overview(request: Request) -> Overview:
        """Health, per-topic totals and rates, consumer lag, dead letters, outbox and parked
        events of every service, from one concurrent scrape."""
        watch: Watch = request.app.state.watch
        return await watch.overview()

    @api.get("/dead-letters/{service}", tags=["dead letters"])
    async def dead_letters(service: str) -> DeadLetters:
        """The newest dead letters of a service: headers and reason only, never the payload."""
        return await read_dead_letters(
            config.kafka_bootstrap,
            service,
            dlq_topic(service),
            max_records=config.dashboard_dead_letters_max,
            timeout_s=config.dashboard_kafka_timeout_s,
        )

    @api.post("/dead-letters/{service}/replay", tags=["dead letters"])
    async def replay_dead_letter(service: str, body: ReplayRequest, caller: CallerDep) -> Replayed:
        """Re-publish one dead letter to its original topic with its original key, value and
        headers. Safe to repeat: consumers deduplicate on ce_source + ce_id. The plan's operators
        only: every consumer of the topic, whoever's members it serves, reads the record again."""
        if not caller.is_plan:
            raise Forbidden("replaying a dead letter is for the plan's operators")
        return await replay(
            config.kafka_bootstrap, dlq_topic(service), body, timeout_s=config.dashboard_kafka_timeout_s
        )

    app.include_router(api)
    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    return app


app = create_app()
