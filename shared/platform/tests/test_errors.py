"""Database failures that are not the request's fault are answered 503 with Retry-After, so a
client knows to send the same request again; a value Postgres refuses is the request's fault."""

import asyncpg
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy.exc import DBAPIError

from hearth_platform.errors import add_exception_handlers


def answer_to(exc: BaseException):
    app = FastAPI()
    add_exception_handlers(app)

    @app.post("/things")
    async def things() -> None:
        raise exc

    return TestClient(app, raise_server_exceptions=False).post("/things")


def wrapped(orig: BaseException) -> DBAPIError:
    return DBAPIError("INSERT ...", {}, orig)


@pytest.mark.parametrize(
    ("exc", "error", "retry_after"),
    [
        (wrapped(asyncpg.exceptions.DeadlockDetectedError("deadlock detected")), "transient_conflict", "1"),
        (wrapped(asyncpg.exceptions.SerializationError("could not serialize")), "transient_conflict", "1"),
        (wrapped(asyncpg.exceptions.AdminShutdownError("terminating")), "database_unavailable", "2"),
        (wrapped(asyncpg.exceptions.ConnectionDoesNotExistError("closed")), "database_unavailable", "2"),
        (ConnectionRefusedError(111, "Connection refused"), "database_unavailable", "2"),
    ],
)
def test_a_database_away_or_a_deadlock_is_503_with_retry_after(exc, error, retry_after) -> None:
    response = answer_to(exc)
    assert response.status_code == 503
    assert response.headers["retry-after"] == retry_after
    assert response.json()["error"] == error


def test_a_value_postgres_refuses_is_422() -> None:
    response = answer_to(wrapped(asyncpg.exceptions.CharacterNotInRepertoireError("NUL")))
    assert response.status_code == 422
    assert response.json()["error"] == "unstorable_value"


def test_any_other_database_error_stays_a_500() -> None:
    response = answer_to(wrapped(asyncpg.exceptions.UndefinedTableError("no such table")))
    assert response.status_code == 500
