"""One error format for every response: `{"error": code, "detail": message}`; the message says
what a person can do about it."""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy.exc import DataError, InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeoutError
from starlette.exceptions import HTTPException as StarletteHTTPException

from cashback.db.session import is_transient
from cashback.domain.names import CONTROL_CHARACTERS

log = logging.getLogger(__name__)

# Seconds a client is asked to wait (Retry-After) while the database cannot be reached.
DATABASE_RETRY_AFTER_SECONDS = 30


class ErrorBody(BaseModel):
    """Every error the API answers: a stable code to branch on, and a sentence for a person."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "error": "invoice_missing",
                    "detail": "R5: attach a copy of the customer invoice (PDF, PNG or JPEG) as "
                    "the `invoice` file; without it the submission cannot be completed",
                }
            ]
        }
    )

    error: str = Field(description="a stable code, e.g. `invoice_missing`")
    detail: str = Field(description="what happened and what to do about it")


class ApiError(Exception):
    """An error the API answers with: status, a stable code, and a sentence for a person."""

    def __init__(
        self, status_code: int, error: str, detail: str, headers: dict[str, str] | None = None
    ) -> None:
        super().__init__(detail)
        self.status_code = status_code
        self.error = error
        self.detail = detail
        self.headers = headers


def not_found(what: str) -> ApiError:
    return ApiError(404, "not_found", f"{what} was not found")


def error_responses(*codes: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI entries for the error responses of a route."""
    return {code: {"model": ErrorBody} for code in codes}


def _body(error: str, detail: str) -> dict[str, str]:
    return {"error": error, "detail": detail}


def _readable(error: RequestValidationError) -> str:
    parts = []
    for item in error.errors():
        where = ".".join(str(part) for part in item.get("loc", ()) if part != "body")
        parts.append(f"{where}: {item.get('msg', 'invalid')}" if where else item.get("msg", ""))
    return "; ".join(parts) or "the request is not valid"


def nul_in_text() -> ApiError:
    return ApiError(
        422, "invalid_text", "text fields must not contain NUL (0x00) characters; remove them"
    )


def _is_nul_in_text(error: DataError) -> bool:
    return "NUL" in str(error.orig)


def database_unavailable() -> ApiError:
    """503 while the database cannot be reached (down, restarting, refusing connections, locked):
    the request was not carried out, and the same request can simply be sent again later."""
    return ApiError(
        503,
        "database_unavailable",
        "The database cannot be reached right now, so this request was not carried out. "
        f"Try again in {DATABASE_RETRY_AFTER_SECONDS} seconds; if it persists, tell the "
        "program's operators.",
        headers={"Retry-After": str(DATABASE_RETRY_AFTER_SECONDS)},
    )


def install_error_handlers(app: FastAPI) -> None:
    async def _database_failed(request: Request, error: Exception) -> JSONResponse:
        # The pool notices a dead connection and replaces it (pool_pre_ping, invalidation): the
        # next request after the database is back succeeds, with no restart.
        if not is_transient(error):
            raise error
        log.warning(
            "%s %s: the database is unavailable (%s)",
            request.method,
            request.url.path,
            type(error).__name__,
        )
        unavailable = database_unavailable()
        return JSONResponse(
            _body(unavailable.error, unavailable.detail),
            status_code=unavailable.status_code,
            headers=unavailable.headers,
        )

    for failure in (OperationalError, InterfaceError, PoolTimeoutError):
        app.add_exception_handler(failure, _database_failed)

    @app.exception_handler(DataError)
    async def _data_error(request: Request, error: DataError) -> JSONResponse:
        # PostgreSQL refuses NUL in text (SQLite stores it): the input's fault, not a 500.
        if not _is_nul_in_text(error):
            raise error
        refused = nul_in_text()
        return JSONResponse(_body(refused.error, refused.detail), status_code=422)

    @app.exception_handler(ApiError)
    async def _api_error(request: Request, error: ApiError) -> JSONResponse:
        return JSONResponse(
            _body(error.error, error.detail), status_code=error.status_code, headers=error.headers
        )

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, error: RequestValidationError) -> JSONResponse:
        # Control characters in a name are their own refusal, like NUL: text a person must fix.
        kinds = {item.get("type") for item in error.errors()}
        code = "invalid_text" if kinds == {CONTROL_CHARACTERS} else "invalid_request"
        return JSONResponse(_body(code, _readable(error)), status_code=422)

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, error: StarletteHTTPException) -> JSONResponse:
        code = {
            401: "unauthenticated",
            403: "forbidden",
            404: "not_found",
            405: "method_not_allowed",
        }
        return JSONResponse(
            _body(code.get(error.status_code, "http_error"), str(error.detail)),
            status_code=error.status_code,
            headers=getattr(error, "headers", None),
        )
