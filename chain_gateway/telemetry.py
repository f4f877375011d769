"""Wires the gateway's observability into the app: the request middleware (request ids, one log
line per request, HTTP metrics) and ``GET /metrics`` (Prometheus text format, unauthenticated:
bind to loopback or protect it at the proxy; ``SCF_GATEWAY_METRICS_ENABLED=false`` removes it)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from fastapi import FastAPI, Request, Response
from prometheus_client import CollectorRegistry
from prometheus_client.registry import Collector

from chain_gateway.metrics import EVENTS, StoreCollector
from chain_gateway.settings import Settings
from scf_core.metrics import CONTENT_TYPE, HttpMetrics, Observe, exposition


class _AppStore(Collector):
    """The store collector of the app's running gateway (built on start-up)."""

    def __init__(self, app: FastAPI):
        self.app = app

    def collect(self) -> Iterator[Any]:
        gateway = getattr(self.app.state, "gateway", None)
        if gateway is not None:
            yield from StoreCollector(gateway.engine).collect()


def install(app: FastAPI, settings: Settings) -> None:
    registry = CollectorRegistry()
    app.add_middleware(Observe, metrics=HttpMetrics("scf_gateway", registry))
    if not settings.metrics_enabled:
        return
    registry.register(_AppStore(app))

    @app.get("/metrics", tags=["system"], include_in_schema=False)
    def metrics(request: Request) -> Response:  # a plain def: the store queries run in a worker thread
        return Response(exposition(registry, EVENTS), media_type=CONTENT_TYPE)
