"""The app factory: every service is a `ServiceDefinition` handed to `create_app`.

The lifespan migrates the service's schema, opens its database, and starts its outbox relay and
its consumer as background tasks. Neither task needs the broker to be up: HTTP writes land in the
outbox and are published when the broker comes back.
"""

import asyncio
import contextlib
import copy
import gc
import inspect
import logging
import time
import typing
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import parse_qs

from fastapi import APIRouter, Depends, FastAPI, Request, Response
from fastapi.middleware.cors import CORSMiddleware
from fastapi.responses import JSONResponse
from fastapi.routing import APIRoute
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from sqlalchemy import MetaData
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from .audit import AuditTrail, audit_router
from .auth import Authenticator, MethodScope, document_bearer
from .coalesce import C, Coalescer, R, SetBased
from .consumer import Consumer, is_infrastructure_fault
from .db import Database, TraceContext, current_trace
from .errors import add_exception_handlers, error_body
from .handlers import HandlerRegistry
from .ids import new_id, new_traceparent
from .logging import configure_logging
from .metrics import HTTP_REQUESTS, HTTP_SECONDS
from .migrations import upgrade
from .relay import Relay
from .settings import Settings, get_settings
from .tables import PlatformTables
from .tracing import TracingMiddleware, configure_tracing

log = logging.getLogger("hearth.app")


@dataclass
class ServiceDefinition:
    name: str
    metadata: MetaData
    platform: PlatformTables
    migrations: Path
    routers: list[APIRouter] = field(default_factory=list)
    handlers: HandlerRegistry = field(default_factory=HandlerRegistry)
    description: str = ""
    # Runs once after migrations, e.g. to load reference data shipped as files.
    on_startup: Callable[[Database], Awaitable[None]] | None = None
    # The scopes that guard the service's routes: GET needs `read_scope`, other methods
    # `write_scope` (default `<name>:read` and `<name>:write`; see auth.MethodScope).
    read_scope: str = ""
    write_scope: str = ""
    # Bulk endpoints (path prefix -> byte limit) that take more than `max_request_bytes`.
    bulk_paths: dict[str, int] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.read_scope = self.read_scope or f"{self.name}:read"
        self.write_scope = self.write_scope or f"{self.name}:write"

    @property
    def schema(self) -> str:
        assert self.metadata.schema is not None
        return self.metadata.schema


@dataclass
class Runtime:
    """What the lifespan creates, reachable from routes as `request.app.state.runtime`."""

    settings: Settings
    db: Database
    relay: Relay
    consumer: Consumer | None
    audit: AuditTrail
    coalescers: dict[Any, Coalescer[Any, Any]] = field(default_factory=dict)

    def coalescer(self, fn: SetBased[C, R]) -> Coalescer[C, R]:
        """The process's one coalescer for this set-based function."""
        if fn not in self.coalescers:
            self.coalescers[fn] = Coalescer(self.db, fn)
        return self.coalescers[fn]


# Async, so FastAPI does not hand these to a worker thread on every request.
async def get_db(request: Request) -> Database:
    return request.app.state.runtime.db  # type: ignore[no-any-return]


async def get_runtime(request: Request) -> Runtime:
    return request.app.state.runtime  # type: ignore[no-any-return]


DatabaseDep = Annotated[Database, Depends(get_db)]
RuntimeDep = Annotated[Runtime, Depends(get_runtime)]


#: On every response: the APIs serve member data to servers, never pages to frame or sniff.
SECURITY_HEADERS = [
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"no-referrer"),
    (b"cache-control", b"no-store"),
    (b"strict-transport-security", b"max-age=31536000; includeSubDomains"),
]
#: Not on the interactive docs, whose page loads Swagger UI's script and styles.
API_CONTENT_SECURITY_POLICY = (b"content-security-policy", b"default-src 'none'; frame-ancestors 'none'")
DOCS_PATHS = ("/docs", "/redoc")
#: The operational endpoints that answer without a token.
OPEN_PATHS = ("/health", "/health/live", "/metrics")


class RequestContext:
    """Pure ASGI middleware: trace context for the request, body size limit, security headers,
    HTTP metrics."""

    def __init__(
        self, app: ASGIApp, service: str, max_bytes: int, bulk_paths: dict[str, int] | None = None
    ) -> None:
        self.app = app
        self.service = service
        self.max_bytes = max_bytes
        self.bulk_paths = bulk_paths or {}
        self._children: dict[tuple[str, str, int], tuple[Any, Any]] = {}
        self._api_headers = [*SECURITY_HEADERS, API_CONTENT_SECURITY_POLICY]

    def limit(self, path: str) -> int:
        for prefix, n in self.bulk_paths.items():
            if path.startswith(prefix):
                return n
        return self.max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = dict(scope["headers"])
        length = headers.get(b"content-length")
        limit = self.limit(scope["path"])
        if length is not None and (not length.isdigit() or int(length) > limit):
            await JSONResponse(error_body("payload_too_large", _too_large(limit)), status_code=413)(
                scope, receive, send
            )
            return
        if length is None:
            receive = _limited(receive, limit)
        traceparent = headers.get(b"traceparent", b"").decode() or new_traceparent()
        # Every event a request causes shares one correlation id, given or new.
        correlation = headers.get(b"x-correlation-id", b"").decode() or new_id()
        token = current_trace.set(TraceContext(correlation_id=correlation, traceparent=traceparent))
        status = 500
        started = time.perf_counter()

        extra = SECURITY_HEADERS if scope["path"].startswith(DOCS_PATHS) else self._api_headers

        async def send_wrapper(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message["headers"] = [*message.get("headers", ()), *extra]
            await send(message)

        try:
            await self.app(scope, receive, send_wrapper)
        finally:
            current_trace.reset(token)
            route = getattr(scope.get("route"), "path", "unmatched")
            principal = scope.get("state", {}).get("principal")
            if principal is not None:
                scope["app"].state.runtime.audit.record(
                    principal,
                    method=scope["method"],
                    route=route,
                    path=scope["path"],
                    member_id=_member_of(scope),
                    status=status,
                    purpose=headers.get(b"x-purpose-of-use", b"").decode(errors="replace") or None,
                    correlation_id=correlation,
                )
            requests, seconds = self._metrics(scope["method"], route, status)
            requests.inc()
            seconds.observe(time.perf_counter() - started)

    def _metrics(self, method: str, route: str, status: int) -> tuple[Any, Any]:
        """The request counter and latency histogram of (method, route, status): looked up by the
        client library once, then from a dict (its `labels()` costs more than a request's audit)."""
        key = (method, route, status)
        found = self._children.get(key)
        if found is None:
            found = (
                HTTP_REQUESTS.labels(self.service, method, route, str(status)),
                HTTP_SECONDS.labels(self.service, method, route),
            )
            self._children[key] = found
        return found


def _too_large(limit: int) -> str:
    return f"request bodies are limited to {limit} bytes"


def _limited(receive: Receive, limit: int) -> Receive:
    """A chunked body (no Content-Length) is counted as it arrives and refused past the limit."""
    received = 0

    async def counting() -> Message:
        nonlocal received
        msg = await receive()
        if msg["type"] == "http.request":
            received += len(msg.get("body", b""))
            if received > limit:
                raise StarletteHTTPException(413, _too_large(limit))
        return msg

    return counting


def _member_of(scope: Scope) -> str | None:
    """The member a request is about, when its path or query names one."""
    member = scope.get("path_params", {}).get("member_id")
    if member is None and b"member_id=" in scope.get("query_string", b""):
        query = parse_qs(scope["query_string"].decode(errors="replace"))
        member = (query.get("member_id") or [None])[0]
    return str(member)[:64] if member is not None else None


def _include_guarded(app: FastAPI, routers: list[APIRouter], guard: MethodScope) -> None:
    """Every route of `routers` on `app` behind `guard`. A route is added as a copy whose ASGI app
    checks the token first (`MethodScope.guard`), so FastAPI solves no guard dependency on each
    request and the app's router matches it directly; a router holding anything but plain routes
    (an included sub-router, a mount) is included with the guard as a dependency instead."""
    operational = [path for route in app.router.routes if (path := getattr(route, "path", None))]
    service: list[APIRoute] = []
    for router in routers:
        if not all(isinstance(route, APIRoute) for route in router.routes):
            app.include_router(router, dependencies=[Depends(guard)])
            continue
        for route in router.routes:
            assert isinstance(route, APIRoute)
            guarded = copy.copy(route)  # the router is a module's: other apps may include it too
            guarded.app = guard.guard(_direct(route) or route.app, route.openapi_extra)
            service.append(guarded)
    # The router tries routes in order: the service's come before the docs and operational
    # endpoints (seven fewer misses on every API request) unless one of them would take such a
    # path, when the operational endpoints keep precedence.
    if any(route.path_regex.match(path) for route in service for path in operational):
        app.router.routes.extend(service)
    else:
        app.router.routes[:0] = service


def _direct(route: APIRoute) -> ASGIApp | None:
    """For a hot route written as `async def route(request: Request) -> Response` (it reads and
    validates its own input, see referral's `post_referral`), an ASGI app that calls it without
    FastAPI's per-request machinery: there are no parameters to solve, no dependencies to close
    and no return value to serialize. Its errors reach the app's exception handlers as any
    route's do. None for any other route."""
    d = route.dependant
    plain = not (
        d.path_params
        or d.query_params
        or d.header_params
        or d.cookie_params
        or d.body_params
        or d.dependencies
    )
    others = (
        d.websocket_param_name,
        d.http_connection_param_name,
        d.response_param_name,
        d.background_tasks_param_name,
        d.security_scopes_param_name,
    )
    try:
        returns = typing.get_type_hints(route.endpoint).get("return")
    except Exception:  # an annotation that does not resolve: leave the route to FastAPI
        return None
    if not (
        plain
        and d.request_param_name is not None
        and not any(others)
        and inspect.iscoroutinefunction(route.endpoint)
        and isinstance(returns, type)
        and issubclass(returns, Response)
        and getattr(route, "max_body_size", None) is None
    ):
        return None
    endpoint, name = route.endpoint, d.request_param_name

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        response = await endpoint(**{name: Request(scope, receive, send)})
        await response(scope, receive, send)

    return app


async def _migrate_when_reachable(settings: Settings, definition: ServiceDefinition) -> None:
    for attempt in range(60):
        try:
            await upgrade(settings.database_url, definition.schema, definition.migrations)
            return
        except Exception as exc:
            if not is_infrastructure_fault(exc) or attempt == 59:
                raise
            log.warning("database not reachable yet, retrying migrations")
            await asyncio.sleep(1.0)


def create_app(definition: ServiceDefinition, settings: Settings | None = None) -> FastAPI:
    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        cfg = settings or get_settings()
        configure_logging(definition.name, cfg.log_level)
        configure_tracing(definition.name)
        app.state.authenticator = Authenticator(cfg)
        await _migrate_when_reachable(cfg, definition)
        db = Database(cfg, definition.name, definition.platform)
        if definition.on_startup is not None:
            await definition.on_startup(db)
        relay = Relay(db)
        consumer = Consumer(db, definition.handlers) if len(definition.handlers) else None
        audit = AuditTrail(db)
        app.state.runtime = Runtime(cfg, db, relay, consumer, audit)
        tasks = [asyncio.create_task(audit.run(), name=f"{definition.name}-audit")]
        if cfg.relay_enabled:
            tasks.append(asyncio.create_task(relay.run(), name=f"{definition.name}-relay"))
        if consumer is not None:
            tasks.append(asyncio.create_task(consumer.run(), name=f"{definition.name}-consumer"))
        log.info("service started", extra={"topics": consumer.topics if consumer else ()})
        # What start-up built (routes, models, pools) lives as long as the process: out of the
        # collector's sight, the collections that per-request garbage triggers stay short.
        gc.collect()
        gc.freeze()
        try:
            yield
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            await db.dispose()

    app = FastAPI(
        title=f"Hearth {definition.name}",
        description=definition.description,
        version="0.1.0",
        lifespan=lifespan,
        # Hearth's own spans (tracing.py) and metrics (metrics.py) cover HTTP; FastAPI's native
        # telemetry would record each request twice and costs a provider lookup per request.
        telemetry={"tracing": False, "metrics": False, "logs": False},
    )
    add_exception_handlers(app)
    configured = settings or get_settings()
    if configured.cors_origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=configured.cors_origins,
            allow_methods=["GET", "POST", "PUT", "PATCH", "DELETE"],
            allow_headers=["authorization", "content-type", "idempotency-key", "traceparent"],
        )
    app.add_middleware(
        RequestContext,
        service=definition.name,
        max_bytes=configured.max_request_bytes,
        bulk_paths=definition.bulk_paths,
    )
    # Added after RequestContext so that it runs first: the request's span is the parent of what
    # the request publishes.
    app.add_middleware(TracingMiddleware, service=definition.name)

    @app.get("/health", tags=["operations"])
    async def health(request: Request) -> JSONResponse:
        """Readiness: 200 when the database answers and the broker is reachable, else 503. A
        replica whose relay waits for another replica's relay lock ("standby") is ready: its
        API writes to the outbox, which the other relay publishes."""
        runtime: Runtime = request.app.state.runtime
        checks: dict[str, Any] = {}
        try:
            await asyncio.wait_for(runtime.db.ping(), 2)
            checks["database"] = "ok"
        except Exception:
            checks["database"] = "unavailable"
        if runtime.settings.relay_enabled:
            relay = runtime.relay
            checks["broker"] = "ok" if relay.broker_ok else "standby" if relay.standby else "unavailable"
        if runtime.consumer is not None:
            checks["consumer"] = "ok" if runtime.consumer.running else "starting"
        ok = all(v in ("ok", "standby") for v in checks.values())
        return JSONResponse(
            {"status": "ok" if ok else "degraded", "service": definition.name, "checks": checks},
            status_code=200 if ok else 503,
        )

    @app.get("/health/live", tags=["operations"])
    async def live() -> dict[str, str]:
        """Liveness: the process answers."""
        return {"status": "ok"}

    @app.get("/metrics", tags=["operations"], include_in_schema=False)
    async def metrics() -> Response:
        return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)

    # Every route of the service needs a token with the right scope; only the operational
    # endpoints above answer without one.
    _include_guarded(app, definition.routers, MethodScope(definition.read_scope, definition.write_scope))
    app.include_router(audit_router())
    generate_openapi = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            document_bearer(generate_openapi(), OPEN_PATHS)
        return app.openapi_schema  # type: ignore[return-value]

    app.openapi = openapi  # type: ignore[method-assign]
    return app
