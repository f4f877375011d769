"""The auditors' API. ``uvicorn indexer.api.main:app`` (settings from SCF_INDEXER_* variables) or
``create_app(settings)``."""

from __future__ import annotations

import gc
from typing import Any

from fastapi import FastAPI, Request, Response

from indexer import reports
from indexer.api import certificates, members, observe
from indexer.api import reports as report_routes
from indexer.api.deps import json_response
from indexer.api.errors import install_handlers
from indexer.api.lineage_cache import LineageCache
from indexer.db import make_engine
from indexer.settings import Settings


def create_app(settings: Settings | None = None, engine: Any = None) -> FastAPI:
    settings = settings or Settings()
    app = FastAPI(
        title="SCF indexer: auditors' API",
        version="1",
        description="Read-only views of the indexed chain. Every /v1 route needs an auditor key "
        "(`X-API-Key` or `Authorization: Bearer`). Add `format=csv` for CSV.",
    )
    install_handlers(app)
    app.state.engine = engine or make_engine(settings.database_url, read_only=True)
    app.state.key_hashes = settings.key_hashes()
    app.state.lineage_cache = LineageCache(settings.lineage_cache_mib << 20)

    @app.get(
        "/health",
        tags=["status"],
        responses={503: {"description": "database unreachable or schema not migrated: {ok: false, error}"}},
    )
    def health(request: Request) -> Response:
        """Liveness, the indexed block, and the follower's head, lag and last error (no key needed)."""
        try:
            with request.app.state.engine.connect() as conn:
                return json_response({"ok": True, **reports.status(conn)})
        except Exception as exc:  # database down, schema not migrated yet
            resp = json_response({"ok": False, "error": exc.__class__.__name__})
            resp.status_code = 503
            return resp

    app.include_router(certificates.router)
    app.include_router(members.router)
    app.include_router(report_routes.router)
    observe.install(app, settings)  # /metrics, /v1/ready, request ids and the request log
    # the long-lived objects of imports and the app move out of the collector's reach: large
    # responses (a lineage of 10,000 holdings) then pay no full collections over them
    gc.collect()
    gc.freeze()
    return app


app: FastAPI  # `uvicorn indexer.api.main:app`: built from the environment on first access


def __getattr__(name: str) -> Any:
    if name == "app":
        built = create_app()
        globals()["app"] = built
        return built
    raise AttributeError(name)
