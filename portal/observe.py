"""The portal's request metrics and request ids: ``GET /metrics`` (Prometheus text format,
requests by route template and status, latency; unauthenticated: the portal binds to loopback by
default, protect ``/metrics`` at the proxy otherwise) and ``X-Request-Id`` on every answer."""

from __future__ import annotations

from fastapi import FastAPI, Response
from prometheus_client import CollectorRegistry

from scf_core.metrics import CONTENT_TYPE, HttpMetrics, Observe, exposition


def install(app: FastAPI) -> None:
    registry = CollectorRegistry()
    app.add_middleware(Observe, metrics=HttpMetrics("scf_portal", registry))

    @app.get("/metrics", include_in_schema=False)
    def metrics() -> Response:
        return Response(exposition(registry), media_type=CONTENT_TYPE)
