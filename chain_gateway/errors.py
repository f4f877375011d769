"""One exception root with stable codes; one handler renders ``{code, message, details}``."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
from starlette.exceptions import HTTPException as StarletteHTTPException


class GatewayError(Exception):
    status_code = 400
    code = "BAD_REQUEST"

    def __init__(self, message: str, details: dict[str, Any] | None = None, *, code: str | None = None):
        super().__init__(message)
        self.message = message
        self.details = details or {}
        if code:
            self.code = code


class Unauthenticated(GatewayError):
    status_code = 401
    code = "UNAUTHENTICATED"


class Forbidden(GatewayError):
    status_code = 403
    code = "FORBIDDEN"


class NotFound(GatewayError):
    status_code = 404
    code = "NOT_FOUND"


class Conflict(GatewayError):
    status_code = 409
    code = "CONFLICT"


class ContractRevert(GatewayError):
    """The simulation reverted: nothing was signed or sent."""

    status_code = 422
    code = "CONTRACT_REVERT"


class InvalidRequest(GatewayError):
    """A well-formed request the gateway refuses on its own (a named ``code``), before simulating."""

    status_code = 422
    code = "VALIDATION_ERROR"


class NoSigner(GatewayError):
    status_code = 422
    code = "NO_SIGNER"


class NodeUnavailable(GatewayError):
    status_code = 503
    code = "NODE_UNAVAILABLE"


class PayloadTooLarge(StarletteHTTPException):
    """The request body exceeds the limit (raised while it is read: FastAPI re-raises HTTP errors
    raised by the body's ``receive``)."""

    def __init__(self, limit: int):
        super().__init__(413, f"the request body exceeds the limit of {limit} bytes")
        self.details = {"limit_bytes": limit}


class ErrorOut(BaseModel):
    """Every error answer."""

    code: str = Field(description="stable, machine-readable (e.g. NOT_FOUND, CONTRACT_REVERT)")
    message: str
    details: dict[str, Any]


HTTP_CODES = {
    400: "BAD_REQUEST", 401: "UNAUTHENTICATED", 404: "NOT_FOUND", 405: "METHOD_NOT_ALLOWED", 413: "PAYLOAD_TOO_LARGE",
}


def http_error_response(exc: StarletteHTTPException) -> JSONResponse:
    body = error_body(HTTP_CODES.get(exc.status_code, "HTTP_ERROR"), str(exc.detail), getattr(exc, "details", None))
    return JSONResponse(body, exc.status_code, headers=exc.headers)


def validation_code(errors: list[dict[str, Any]]) -> str:
    """A validation error's code: the first named one (an upper-case error type, e.g.
    ``ADDRESS_CHECKSUM``, ``ZERO_AMOUNT``), else ``VALIDATION_ERROR``."""
    return next((e["type"] for e in errors if e["type"].isupper()), "VALIDATION_ERROR")


def error_body(code: str, message: str, details: dict[str, Any] | None = None) -> dict[str, Any]:
    return {"code": code, "message": message, "details": details or {}}


def install_handlers(app: FastAPI) -> None:
    @app.exception_handler(GatewayError)
    async def _gateway(_: Request, exc: GatewayError) -> JSONResponse:
        return JSONResponse(error_body(exc.code, exc.message, exc.details), status_code=exc.status_code)

    @app.exception_handler(RequestValidationError)
    async def _validation(_: Request, exc: RequestValidationError) -> JSONResponse:
        errors = [
            {"loc": list(e.get("loc", ())), "msg": str(e.get("msg", "")), "type": str(e.get("type", ""))}
            for e in exc.errors()
        ]
        return JSONResponse(error_body(validation_code(errors), "invalid request", {"errors": errors}), 422)

    @app.exception_handler(StarletteHTTPException)
    async def _http(_: Request, exc: StarletteHTTPException) -> JSONResponse:
        return http_error_response(exc)

    @app.exception_handler(Exception)
    async def _unexpected(_: Request, exc: Exception) -> JSONResponse:  # never leak internals
        import logging

        logging.getLogger("chain_gateway").exception("unhandled error")
        return JSONResponse(error_body("INTERNAL", "internal error"), 500)
