"""One exception root with stable codes, rendered as ``{code, message, details}`` by
``scf_core.http_errors``."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from scf_core import http_errors, rpc
from scf_core.http_errors import error_response


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


class NodeUnavailable(GatewayError, rpc.NodeUnavailable):
    """The chain node is unreachable or its answer is malformed (what ``scf_core.rpc`` raises
    for the gateway)."""

    status_code = 503
    code = "NODE_UNAVAILABLE"


class StoreLockLost(GatewayError):
    """This gateway does not hold its store's instance lock (another gateway process may use the
    store): writes are refused, nothing stored, until it holds the lock again."""

    status_code = 503
    code = "STORE_LOCK_LOST"


class PayloadTooLarge(StarletteHTTPException):
    """The request body exceeds the limit (raised while it is read: FastAPI re-raises HTTP errors
    raised by the body's ``receive``)."""

    def __init__(self, limit: int):
        super().__init__(413, f"the request body exceeds the limit of {limit} bytes")
        self.details = {"limit_bytes": limit}


def install_handlers(app: FastAPI) -> None:
    http_errors.install_handlers(app, "chain_gateway")

    @app.exception_handler(GatewayError)
    async def _gateway(_: Request, exc: GatewayError) -> JSONResponse:
        return error_response(exc.status_code, exc.code, exc.message, exc.details)
