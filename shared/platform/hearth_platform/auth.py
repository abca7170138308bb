"""Who is calling: OAuth2 bearer tokens (JWT, RS256) checked against the issuer's JWKS.

Production points `HEARTH_AUTH_JWKS_URL` at any standard identity provider's JWKS; on a dev
machine it is a `file://` URL to the key set `hearth token` signs with (see `devkeys`). There is
one code path for both, so what the tests prove is what production runs.

A token names its client (`sub`), its organization (`org`) and the kind of organization
(`org_type`: `plan`, `provider` or `aco`), and grants OAuth2 scopes (`scope`, space-separated).
Routes declare the scope they need with `Scope("referral:read")`; what an organization may see is
decided in each service by `Principal.sees_org`, never by the token's client name.
"""

import asyncio
import logging
import math
import time
import urllib.request
from dataclasses import dataclass
from typing import Annotated, Any, Literal

import jwt
import orjson
from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from starlette.types import ASGIApp, Receive, Send
from starlette.types import Scope as AsgiScope

from .errors import HearthError
from .settings import Settings

log = logging.getLogger("hearth.auth")

OrgType = Literal["plan", "provider", "aco"]
ORG_TYPES: tuple[OrgType, ...] = ("plan", "provider", "aco")

#: Every scope a route may require; a token may carry any subset.
SCOPES: dict[str, str] = {
    "referral:read": "read referrals, tasks, the worklist and referral reports",
    "referral:write": "create referrals, record assessments, move referrals on",
    "eligibility:read": "read coverage, eligibility decisions and enrolments",
    "eligibility:write": "load coverage, rosters, attribution and X12 files",
    "billing:read": "read invoices, ledgers and payment reports",
    "billing:admin": "close months, post DME requests and adjustments",
    "quality:read": "read measure results and reports",
    "quality:write": "report visits and surveys, run measures",
    "ops:read": "read the audit log and operational data",
}


class Unauthenticated(HearthError):
    status_code = 401
    code = "unauthenticated"

    @property
    def headers(self) -> dict[str, str]:
        return {"WWW-Authenticate": 'Bearer error="invalid_token"'}


class Forbidden(HearthError):
    status_code = 403
    code = "forbidden"


class RateLimited(HearthError):
    status_code = 429
    code = "rate_limited"

    def __init__(self, retry_after_s: int) -> None:
        super().__init__(f"too many requests from this client; retry after {retry_after_s} s")
        self.headers = {"Retry-After": str(retry_after_s)}


@dataclass(frozen=True, slots=True)
class Principal:
    client: str
    org: str
    org_type: OrgType
    scopes: frozenset[str]

    @property
    def is_plan(self) -> bool:
        return self.org_type == "plan"

    def sees_org(self, org_id: str | None) -> bool:
        """A provider or ACO client sees what belongs to its own organization; the plan sees all."""
        return self.is_plan or (org_id is not None and org_id == self.org)


class KeySet:
    """The issuer's signing keys by key id, fetched again when a token names an unknown key (key
    rotation) or when the set is older than `ttl_s`; fetching runs off the event loop."""

    def __init__(self, url: str, ttl_s: float = 300.0) -> None:
        self.url = url
        self.ttl_s = ttl_s
        self._keys: dict[str, Any] = {}
        self._fetched_at = -math.inf
        self._lock = asyncio.Lock()

    async def key(self, kid: str) -> Any:
        if kid not in self._keys or time.monotonic() - self._fetched_at > self.ttl_s:
            async with self._lock:
                if kid not in self._keys or time.monotonic() - self._fetched_at > self.ttl_s:
                    await self._refresh()
        try:
            return self._keys[kid]
        except KeyError:
            raise Unauthenticated("the token is signed with a key the issuer does not publish") from None

    async def _refresh(self) -> None:
        try:
            document = await asyncio.to_thread(_fetch, self.url)
            keys = jwt.PyJWKSet.from_dict(document).keys
        except Exception as exc:
            log.warning("JWKS fetch failed", extra={"error": type(exc).__name__})
            if not self._keys:
                raise Unauthenticated("the issuer's signing keys are unavailable") from None
            return
        self._keys = {k.key_id: k.key for k in keys if k.key_id}
        self._fetched_at = time.monotonic()


def _fetch(url: str) -> dict[str, Any]:
    with urllib.request.urlopen(url, timeout=5) as response:  # noqa: S310 (file:// in dev only)
        return orjson.loads(response.read())  # type: ignore[no-any-return]


class Authenticator:
    """Verifies bearer tokens, remembers verified ones until they expire (a client sends the same
    token many times), and meters each client against its request budget."""

    def __init__(self, settings: Settings) -> None:
        if not settings.auth_jwks_url:
            raise RuntimeError(
                "HEARTH_AUTH_JWKS_URL is not set: point it at the identity provider's JWKS "
                "(`make up` uses the dev key set under .hearth/auth)"
            )
        self.issuer = settings.auth_issuer
        self.audience = settings.auth_audience
        self.keys = KeySet(settings.auth_jwks_url)
        self.rate = RateLimiter(settings.rate_limit_per_s, settings.rate_limit_burst)
        self._verified: dict[str, tuple[Principal, float]] = {}

    async def principal(self, token: str) -> Principal:
        cached = self._verified.get(token)
        if cached is not None and cached[1] > time.time():
            return cached[0]
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError:
            raise Unauthenticated("the bearer token is not a JWT") from None
        if header.get("alg") != "RS256" or not header.get("kid"):
            raise Unauthenticated("the token must be signed with RS256 and name its key (kid)")
        key = await self.keys.key(str(header["kid"]))
        try:
            claims = jwt.decode(
                token,
                key,
                algorithms=["RS256"],
                audience=self.audience,
                issuer=self.issuer,
                options={"require": ["exp", "iat", "sub", "iss", "aud"]},
                leeway=30,
            )
        except jwt.ExpiredSignatureError:
            raise Unauthenticated("the token has expired") from None
        except jwt.PyJWTError as exc:
            raise Unauthenticated(f"the token is not valid: {exc}") from None
        principal = _principal(claims)
        if len(self._verified) > 10_000:
            self._verified.clear()
        self._verified[token] = (principal, float(claims["exp"]))
        return principal


def _principal(claims: dict[str, Any]) -> Principal:
    org, org_type = claims.get("org"), claims.get("org_type")
    if not isinstance(org, str) or not org or org_type not in ORG_TYPES:
        raise Unauthenticated("the token must carry org and org_type (plan, provider or aco)")
    scope = claims.get("scope", "")
    if not isinstance(scope, str):
        raise Unauthenticated("the token's scope must be a space-separated string")
    return Principal(str(claims["sub"]), org, org_type, frozenset(scope.split()))


class RateLimiter:
    """A token bucket per client: `per_s` requests a second on average, bursts up to `burst`."""

    def __init__(self, per_s: float, burst: int) -> None:
        self.per_s = per_s
        self.burst = burst
        self._buckets: dict[str, tuple[float, float]] = {}

    def take(self, client: str) -> None:
        now = time.monotonic()
        tokens, at = self._buckets.get(client, (float(self.burst), now))
        tokens = min(float(self.burst), tokens + (now - at) * self.per_s)
        if tokens < 1.0:
            self._buckets[client] = (tokens, now)
            raise RateLimited(max(1, math.ceil((1.0 - tokens) / self.per_s)))
        self._buckets[client] = (tokens - 1.0, now)


_bearer = HTTPBearer(auto_error=False, description="An OAuth2 access token (JWT, RS256).")


async def authenticate(
    request: Request, credentials: HTTPAuthorizationCredentials | None, scope: str
) -> Principal:
    """The caller of `request` when its token is valid and grants `scope`; metered per client."""
    if credentials is None or credentials.scheme.lower() != "bearer":
        raise Unauthenticated("a bearer token is required (Authorization: Bearer <token>)")
    return await _authenticate_token(request, credentials.credentials, scope)


async def _authenticate_token(request: Request, token: str | None, scope: str) -> Principal:
    return await _authorize(request.scope, token, scope)


async def _authorize(asgi_scope: AsgiScope, token: str | None, scope: str) -> Principal:
    """The caller of the request `asgi_scope` when `token` is valid and grants `scope`, metered
    per client and kept in the request's state (where `caller_of` and the audit find it)."""
    if not token:
        raise Unauthenticated("a bearer token is required (Authorization: Bearer <token>)")
    authenticator: Authenticator = asgi_scope["app"].state.authenticator
    principal = await authenticator.principal(token)
    authenticator.rate.take(principal.client)
    if scope not in principal.scopes:
        raise Forbidden(f"the token does not grant the scope {scope}")
    asgi_scope.setdefault("state", {})["principal"] = principal
    return principal


def _bearer_token(request: Request) -> str | None:
    """The token of an `Authorization: Bearer <token>` header, read as `HTTPBearer` reads it."""
    return _bearer_of(request.scope)


def _bearer_of(asgi_scope: AsgiScope) -> str | None:
    for name, value in asgi_scope["headers"]:
        if name == b"authorization":
            scheme, _, token = value.decode("latin-1").partition(" ")
            return token.strip() if scheme.lower() == "bearer" else None
    return None


BEARER_SCHEME = "HTTPBearer"


def document_bearer(openapi: dict[str, Any], open_paths: tuple[str, ...]) -> dict[str, Any]:
    """Declare in an OpenAPI document that every operation outside `open_paths` needs a bearer
    token (the guard reads the header itself rather than through an `HTTPBearer` dependency, so
    FastAPI does not declare it)."""
    schemes = openapi.setdefault("components", {}).setdefault("securitySchemes", {})
    schemes.setdefault(
        BEARER_SCHEME, {"type": "http", "scheme": "bearer", "description": _bearer.model.description}
    )
    for path, operations in openapi.get("paths", {}).items():
        if path in open_paths:
            continue
        for operation in operations.values():
            if isinstance(operation, dict):
                operation.setdefault("security", [{BEARER_SCHEME: []}])
    return openapi


BearerDep = Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]


class Scope:
    """A route dependency: the caller's `Principal`, when its token is valid and grants `scope`
    (see `requires`)."""

    def __init__(self, scope: str) -> None:
        if scope not in SCOPES:
            raise ValueError(f"unknown scope {scope!r}")
        self.scope = scope

    async def __call__(self, request: Request, credentials: BearerDep) -> Principal:
        return await authenticate(request, credentials, self.scope)


#: A route that reads with POST (a FHIR or X12 query) or needs a narrower scope names it:
#: `@router.post(..., openapi_extra={SCOPE_OVERRIDE: "eligibility:read"})`.
SCOPE_OVERRIDE = "x-hearth-scope"


class MethodScope:
    """The guard the app factory puts on every route of a service: GET needs the service's read
    scope, every other method its write scope, unless the route names its own (`SCOPE_OVERRIDE`).
    A route added later is guarded without anyone remembering to."""

    def __init__(self, read: str, write: str) -> None:
        for scope in (read, write):
            if scope not in SCOPES:
                raise ValueError(f"unknown scope {scope!r}")
        self.read = read
        self.write = write

    # On every request of every route: the header is read here, not through a sub-dependency
    # (`document_bearer` declares the scheme in the OpenAPI document instead).
    async def __call__(self, request: Request) -> Principal:
        extra = getattr(request.scope.get("route"), "openapi_extra", None) or {}
        scope = extra.get(SCOPE_OVERRIDE) or (self.read if request.method in ("GET", "HEAD") else self.write)
        return await _authenticate_token(request, _bearer_token(request), scope)

    def guard(self, app: ASGIApp, openapi_extra: dict[str, Any] | None) -> ASGIApp:
        """`app` (a route's ASGI app) behind this guard: the check `__call__` makes as a
        dependency, made before FastAPI solves the route's parameters, with the route's scope
        override looked up once here rather than on every request."""
        override: str | None = (openapi_extra or {}).get(SCOPE_OVERRIDE)
        if override is not None and override not in SCOPES:
            raise ValueError(f"unknown scope {override!r}")
        read, write = self.read, self.write

        async def guarded(scope: AsgiScope, receive: Receive, send: Send) -> None:
            needed = override or (read if scope["method"] in ("GET", "HEAD") else write)
            await _authorize(scope, _bearer_of(scope), needed)
            await app(scope, receive, send)

        return guarded


def caller_of(request: Request) -> Principal:
    """The authenticated caller of a guarded route (what `CallerDep` gives), for a hot route that
    saves itself the dependency."""
    principal = request.scope.get("state", {}).get("principal")
    if principal is None:  # a route outside the service's guarded routers
        raise Unauthenticated("a bearer token is required (Authorization: Bearer <token>)")
    return principal  # type: ignore[no-any-return]


async def _caller(request: Request) -> Principal:
    return caller_of(request)


#: The authenticated caller of a guarded route, for decisions by organization:
#: `caller: CallerDep`, then `caller.sees_org(referral.provider_org_id)`.
CallerDep = Annotated[Principal, Depends(_caller)]


def requires(scope: str) -> Any:
    """The type of a route parameter that receives the authenticated caller, when its token grants
    `scope`: `ReadReferrals = requires("referral:read")`, then `caller: ReadReferrals`."""
    return Annotated[Principal, Depends(Scope(scope))]
