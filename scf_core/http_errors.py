"""One error body for every HTTP API of the platform, ``{code, message, details}``, and the
handlers both services share (request validation, HTTP errors, unexpected errors). Each service
registers the handler of its own exception root on top (``install_handlers`` + its own)."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import compile_path


class ErrorOut(BaseModel):
    """Every error answer."""

    code: str = Field(description="stable, machine-readable (e.g. NOT_FOUND, VALIDATION_ERROR, CONTRACT_REVERT)")
    message: str
    details: dict[str, Any]


# the code of an HTTP error raised by the framework (unknown route, wrong method, ...)
HTTP_CODES = {
    400: "BAD_REQUEST", 401: "UNAUTHENTICATED", 404: "NOT_FOUND", 405: "METHOD_NOT_ALLOWED",
    413: "PAYLOAD_TOO_LARGE",
}


def error_body(code: str, message: str, details: dict[str, Any] | None = None) -> dict[str, Any]:
    return {"code": code, "message": message, "details": details or {}}


def error_response(
    status: int, code: str, message: str, details: dict[str, Any] | None = None,
    headers: Mapping[str, str] | None = None,
) -> JSONResponse:
    return JSONResponse(error_body(code, message, details), status, headers=headers)


def http_error_response(exc: StarletteHTTPException) -> JSONResponse:
    code = HTTP_CODES.get(exc.status_code, "HTTP_ERROR")
    return error_response(exc.status_code, code, str(exc.detail), getattr(exc, "details", None), exc.headers)


def allowed_methods(request: Request) -> set[str]:
    """Every method the API documents at the request's path (routes of one path may live in
    several routers, and Starlette's 405 names the first one's methods only)."""
    methods: set[str] = set()
    for template, operations in request.app.openapi().get("paths", {}).items():
        if compile_path(template)[0].match(request.url.path):
            methods |= {m.upper() for m in operations if m.upper() in HTTP_METHODS}
    if "GET" in methods:
        methods.add("HEAD")
    return methods


HTTP_METHODS = {"GET", "PUT", "POST", "DELETE", "OPTIONS", "HEAD", "PATCH", "TRACE"}


def validation_code(errors: list[dict[str, Any]]) -> str:
    """A validation error's code: the first named one (an upper-case error type, e.g.
    ``ADDRESS_CHECKSUM``, ``ZERO_AMOUNT``), else ``VALIDATION_ERROR``."""
    return next((e["type"] for e in errors if e["type"].isupper()), "VALIDATION_ERROR")


def install_handlers(app: FastAPI, logger: str) -> None:
    """Request validation errors (422), HTTP errors and unexpected errors (500, logged to
    ``logger``, internals never leaked) as error bodies."""

    @app.exception_handler(RequestValidationError)
    async def _validation(_: Request, exc: RequestValidationError) -> JSONResponse:
        errors = [
            {"loc": list(e.get("loc", ())), "msg": str(e.get("msg", "")), "type": str(e.get("type", ""))}
            for e in exc.errors()
        ]
        return error_response(422, validation_code(errors), "invalid request", {"errors": errors})

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        if exc.status_code == 405:  # Starlette names only the first route of the path in `Allow`
            exc.headers = {**(exc.headers or {}), "Allow": ", ".join(sorted(allowed_methods(request)))}
        return http_error_response(exc)

    @app.exception_handler(Exception)
    async def _unexpected(_: Request, exc: Exception) -> JSONResponse:  # never leak internals
        logging.getLogger(logger).exception("unhandled error")
        return error_response(500, "INTERNAL", "internal error")
