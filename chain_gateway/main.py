"""The app: ``create_app(settings)``; ``uvicorn chain_gateway.main:app`` reads settings from the env.

Run a single worker process per gateway database: nonces are assigned in-process.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from chain_gateway import __version__
from chain_gateway.api.v1 import router as v1
from chain_gateway.errors import install_handlers
from chain_gateway.gateway import Gateway
from chain_gateway.settings import Settings


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or Settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        logging.basicConfig(level=settings.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s")
        gateway = Gateway.build(settings)
        app.state.gateway = gateway
        await gateway.start()
        try:
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
    app.include_router(v1)
    return app


def __getattr__(name: str) -> FastAPI:  # `uvicorn chain_gateway.main:app`: built lazily from the environment
    if name == "app":
        return create_app()
    raise AttributeError(name)
