"""The API's errors: one body, as the gateway's, `{code, message, details}`, from one set of
handlers; the same body declared in OpenAPI for 401/403/404/422 on every route."""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
from starlette.exceptions import HTTPException as StarletteHTTPException

from indexer.errors import IndexerError

log = logging.getLogger("indexer.api")


class ApiError(IndexerError):
    status_code = 422
    code = "VALIDATION_ERROR"

    def __init__(self, message: str, details: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.details = details or {}


class Unauthenticated(ApiError):
    status_code = 401
    code = "UNAUTHENTICATED"


class Forbidden(ApiError):
    status_code = 403
    code = "FORBIDDEN"


class NotFound(ApiError):
    status_code = 404
    code = "NOT_FOUND"


class ErrorBody(BaseModel):
    code: str = Field(description="stable error code: VALIDATION_ERROR, UNAUTHENTICATED, FORBIDDEN, NOT_FOUND, ...")
    message: str
    details: dict[str, Any] = Field(default_factory=dict)


def error_body(code: str, message: str, details: dict[str, Any] | None = None) -> dict[str, Any]:
    return {"code": code, "message": message, "details": details or {}}


_ERR = {"model": ErrorBody}
# every /v1 route: what it answers besides 200 (JSON, or CSV with format=csv)
RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {"content": {"application/json": {}, "text/csv": {}}, "description": "JSON, or CSV with format=csv"},
    401: {**_ERR, "description": "no auditor key"},
    403: {**_ERR, "description": "unknown auditor key"},
    404: {**_ERR, "description": "not indexed"},
    422: {**_ERR, "description": "invalid parameters"},
}


def install_handlers(app: FastAPI) -> None:
    @app.exception_handler(ApiError)
    async def _api(_: Request, exc: ApiError) -> JSONResponse:
        headers = {"WWW-Authenticate": "Bearer"} if exc.status_code == 401 else None
        return JSONResponse(error_body(exc.code, exc.message, exc.details), exc.status_code, headers=headers)

    @app.exception_handler(RequestValidationError)
    async def _validation(_: Request, exc: RequestValidationError) -> JSONResponse:
        errors = [
            {"loc": [str(x) for x in e.get("loc", ())], "msg": str(e.get("msg", "")), "type": str(e.get("type", ""))}
            for e in exc.errors()
        ]
        return JSONResponse(error_body("VALIDATION_ERROR", "invalid request", {"errors": errors}), 422)

    @app.exception_handler(StarletteHTTPException)
    async def _http(_: Request, exc: StarletteHTTPException) -> JSONResponse:
        code = {404: "NOT_FOUND", 405: "METHOD_NOT_ALLOWED", 401: "UNAUTHENTICATED"}.get(exc.status_code, "HTTP_ERROR")
        return JSONResponse(error_body(code, str(exc.detail)), exc.status_code, headers=exc.headers)

    @app.exception_handler(Exception)
    async def _unexpected(_: Request, exc: Exception) -> JSONResponse:  # never leak internals
        log.exception("unhandled error")
        return JSONResponse(error_body("INTERNAL", "internal error"), 500)
