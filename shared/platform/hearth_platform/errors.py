"""One error base class and one place that maps errors to HTTP.

Domain code raises `HearthError` subclasses (never HTTP exceptions); `add_exception_handlers`
turns them, and request validation errors, into one JSON body shape:
`{"error": code, "message": text, "detail": [{"field": ..., "reason": ...}]}`. Validation errors
name the field and the reason but never echo the submitted value, which may be PHI.
"""

from typing import Any

import asyncpg
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import DBAPIError
from starlette.exceptions import HTTPException as StarletteHTTPException


class HearthError(Exception):
    status_code = 400
    code = "bad_request"

    def __init__(self, message: str, *, detail: list[dict[str, Any]] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.detail = detail or []


class NotFound(HearthError):
    status_code = 404
    code = "not_found"


class Conflict(HearthError):
    status_code = 409
    code = "conflict"


class Invalid(HearthError):
    status_code = 422
    code = "invalid"


def error_body(code: str, message: str, detail: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    return {"error": code, "message": message, "detail": detail or []}


def validation_detail(errors: list[Any]) -> list[dict[str, Any]]:
    return [
        {"field": ".".join(str(p) for p in e.get("loc", ())), "reason": e.get("msg", "invalid")}
        for e in errors
    ]


def _is_unstorable_value(exc: BaseException) -> bool:
    """Postgres refused a value itself (a NUL character in text, a number out of range): the
    request is at fault, not the server."""
    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(seen, asyncpg.exceptions.DataError):
            return True
        seen = getattr(seen, "orig", None) or seen.__cause__
    return False


#: SQLSTATEs of a database that is away rather than of a request at fault: connection exceptions
#: (class 08), and a server shutting down, crashed, or not yet accepting connections (57P01-57P03).
_UNAVAILABLE_STATES = ("08", "57P01", "57P02", "57P03")

#: Seconds a client is told to wait before retrying while the database is away.
RETRY_AFTER_SECONDS = "2"


def is_database_unavailable(exc: BaseException) -> bool:
    """The database went away (restart, failover, network): nothing of the request was stored,
    and the same request may simply be retried."""
    if isinstance(exc, DBAPIError) and exc.connection_invalidated:
        return True
    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(seen, ConnectionError | asyncpg.exceptions.ConnectionDoesNotExistError):
            return True
        if isinstance(seen, asyncpg.exceptions.InterfaceError) and "connection" in str(seen):
            return True
        state = getattr(seen, "sqlstate", None)
        if isinstance(state, str) and state.startswith(_UNAVAILABLE_STATES):
            return True
        seen = getattr(seen, "orig", None) or seen.__cause__
    return False


#: SQLSTATEs of a transaction Postgres rolled back to break a deadlock or keep transactions
#: serializable: nothing of it was stored, and the same request succeeds when tried again.
_TRANSIENT_STATES = ("40P01", "40001")


def is_transient_conflict(exc: BaseException) -> bool:
    seen: BaseException | None = exc
    while seen is not None:
        if getattr(seen, "sqlstate", None) in _TRANSIENT_STATES:
            return True
        seen = getattr(seen, "orig", None) or seen.__cause__
    return False


def _unavailable() -> JSONResponse:
    return JSONResponse(
        error_body("database_unavailable", "the database is unavailable; retry the request"),
        status_code=503,
        headers={"Retry-After": RETRY_AFTER_SECONDS},
    )


def add_exception_handlers(app: FastAPI) -> None:
    @app.exception_handler(HearthError)
    async def _hearth_error(_: Request, exc: HearthError) -> JSONResponse:
        return JSONResponse(
            error_body(exc.code, exc.message, exc.detail),
            status_code=exc.status_code,
            headers=getattr(exc, "headers", None),
        )

    @app.exception_handler(RequestValidationError)
    async def _validation(_: Request, exc: RequestValidationError) -> JSONResponse:
        detail = validation_detail(list(exc.errors()))
        return JSONResponse(error_body("validation_error", "the request is invalid", detail), 422)

    @app.exception_handler(DBAPIError)
    async def _database(_: Request, exc: DBAPIError) -> JSONResponse:
        if _is_unstorable_value(exc):
            return JSONResponse(
                error_body(
                    "unstorable_value",
                    "a value in the request cannot be stored "
                    "(for example a NUL character in text, or a number out of range)",
                ),
                status_code=422,
            )
        if is_database_unavailable(exc):
            return _unavailable()
        if is_transient_conflict(exc):
            return JSONResponse(
                error_body("transient_conflict", "the request met a concurrent change; retry it"),
                status_code=503,
                headers={"Retry-After": "1"},
            )
        raise exc

    @app.exception_handler(ConnectionError)
    async def _connection(_: Request, exc: ConnectionError) -> JSONResponse:
        # Raised unwrapped when the pool cannot even open a connection (the database is down).
        return _unavailable()

    @app.exception_handler(StarletteHTTPException)
    async def _http(_: Request, exc: StarletteHTTPException) -> JSONResponse:
        return JSONResponse(
            error_body(f"http_{exc.status_code}", str(exc.detail)), exc.status_code, headers=exc.headers
        )
