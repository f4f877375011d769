"""The auditor API's observability: the request middleware (request ids, one log line per request,
HTTP metrics), ``GET /metrics`` (Prometheus text format, unauthenticated: bind to loopback or
protect it at the proxy) and ``GET /v1/ready`` (store readable, follower lag within
``ready_max_lag_blocks``; 503 ``{code: NOT_READY, message, details}`` otherwise)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from fastapi import FastAPI, Request, Response
from prometheus_client import CollectorRegistry
from prometheus_client.registry import Collector

from indexer import reports
from indexer.api.deps import json_response
from indexer.api.errors import ErrorBody
from indexer.metrics import StatusCollector
from indexer.settings import Settings
from scf_core import logs
from scf_core.metrics import CONTENT_TYPE, HttpMetrics, Observe, exposition


class _AppStatus(Collector):
    def __init__(self, app: FastAPI):
        self.app = app

    def collect(self) -> Iterator[Any]:
        yield from StatusCollector(self.app.state.engine).collect()


def readiness(engine: Any, max_lag: int) -> tuple[bool, dict[str, Any]]:
    try:
        with engine.connect() as conn:
            status = reports.status(conn)
    except Exception as exc:  # database down, schema not migrated yet
        return False, {"failed": ["store"], "store": {"ok": False, "error": exc.__class__.__name__}}
    lag = status["lag"]
    follower = {"ok": lag is not None and lag <= max_lag, "lag": lag, "max_lag": max_lag,
                "indexed_block": status["indexed_block"], "head": status["head"]}
    checks: dict[str, Any] = {"store": {"ok": True}, "follower": follower}
    return follower["ok"], {"failed": [n for n, c in checks.items() if not c["ok"]], **checks}


def install(app: FastAPI, settings: Settings) -> None:
    logs.setup(settings.log_level, settings.log_format)  # after uvicorn's own logging set-up
    registry = CollectorRegistry()
    app.add_middleware(Observe, metrics=HttpMetrics("scf_indexer_api", registry))
    registry.register(_AppStatus(app))

    @app.get("/metrics", tags=["status"], include_in_schema=False)
    def metrics() -> Response:
        return Response(exposition(registry), media_type=CONTENT_TYPE)

    @app.get("/v1/ready", tags=["status"], responses={503: {
        "model": ErrorBody, "description": "not ready: details {failed, store, follower}"}})
    def ready(request: Request) -> Response:
        """Readiness (no key needed): the index database answers and the follower is at most
        `ready_max_lag_blocks` behind the node's head. Liveness: `/health`."""
        ok, details = readiness(request.app.state.engine, settings.ready_max_lag_blocks)
        if ok:
            return json_response({"status": "ready", **details})
        resp = json_response({"code": "NOT_READY", "message": f"not ready: {', '.join(details['failed'])}",
                              "details": details})
        resp.status_code = 503
        return resp
