"""The API's errors: one body, as the gateway's, `{code, message, details}`, from one set of
handlers; the same body declared in OpenAPI for 401/403/404/422 on every route."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from indexer.errors import IndexerError
from scf_core import http_errors
from scf_core.http_errors import ErrorOut, error_response


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


class ErrorBody(ErrorOut):
    """The error body (the auditor API's name for it in OpenAPI)."""


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
    http_errors.install_handlers(app, "indexer.api")

    @app.exception_handler(ApiError)
    async def _api(_: Request, exc: ApiError) -> JSONResponse:
        headers = {"WWW-Authenticate": "Bearer"} if exc.status_code == 401 else None
        return error_response(exc.status_code, exc.code, exc.message, exc.details, headers)
