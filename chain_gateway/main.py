"""The app: ``create_app(settings)``; ``uvicorn chain_gateway.main:app`` reads settings from the env.

Run a single worker process per gateway database: nonces are assigned in-process.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI

from chain_gateway import __version__
from chain_gateway.api import v1
from chain_gateway.bodylimit import BodyLimit
from chain_gateway.errors import install_handlers
from chain_gateway.gateway import Gateway
from chain_gateway.settings import Settings
from chain_gateway.telemetry import install as install_telemetry
from scf_core import logs
from scf_core.collector import service_collector

# FastAPI's OpenAPI model holds `minimum` / `maximum` as floats (2**256 - 1 would read 1.157e77, i.e.
# 2**256): the integer bounds of the API's unsigned types are put back exactly
EXACT_BOUNDS = {float(2**bits - 1): 2**bits - 1 for bits in (32, 64, 128, 256)}


def _exact_bounds(node: Any) -> None:
    if isinstance(node, dict):
        if node.get("type") == "integer":
            for k in ("minimum", "maximum"):
                if isinstance(node.get(k), float):
                    node[k] = EXACT_BOUNDS.get(node[k], int(node[k]))
        for value in node.values():
            _exact_bounds(value)
    elif isinstance(node, list):
        for value in node:
            _exact_bounds(value)


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or Settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        logs.setup(settings.log_level, settings.log_format)
        gateway = Gateway.build(settings)
        app.state.gateway = gateway
        await gateway.start()
        try:
            with service_collector():
                yield
        finally:
            await gateway.stop()

    app = FastAPI(
        title="SCF chain gateway",
        version=__version__,
        description="Receivable certificates: every business operation signed, submitted and confirmed exactly once.",
        lifespan=lifespan,
    )
    install_handlers(app)
    app.add_middleware(BodyLimit, max_bytes=settings.max_body_bytes)
    v1.include(app)
    install_telemetry(app, settings)  # /metrics, request ids and the request log (outermost)

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            _exact_bounds(FastAPI.openapi(app))
        return app.openapi_schema  # type: ignore[return-value]

    app.openapi = openapi  # type: ignore[method-assign]
    return app


def __getattr__(name: str) -> FastAPI:  # `uvicorn chain_gateway.main:app`: built lazily from the environment
    if name == "app":
        return create_app()
    raise AttributeError(name)
