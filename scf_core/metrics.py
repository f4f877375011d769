"""HTTP observability shared by the services: one ASGI middleware gives every request an id
(``X-Request-Id`` if sane, else a new one; echoed in the response), logs one line per request,
and counts requests by route template (never the raw path: no ids in labels) and status, with a
latency histogram; ``exposition`` renders registries in the Prometheus text format."""

from __future__ import annotations

import logging
import re
import time
import uuid
from typing import Any

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Histogram, generate_latest

from scf_core import logs

REQUEST_ID = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")
LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)
CONTENT_TYPE = CONTENT_TYPE_LATEST

access_log = logging.getLogger("scf.access")


class HttpMetrics:
    def __init__(self, prefix: str, registry: CollectorRegistry):
        self.requests = Counter(
            f"{prefix}_http_requests_total", "HTTP requests by method, route template and status",
            ["method", "route", "status"], registry=registry,
        )
        self.latency = Histogram(
            f"{prefix}_http_request_duration_seconds", "HTTP request latency by method and route template",
            ["method", "route"], buckets=LATENCY_BUCKETS, registry=registry,
        )


def route_of(scope: dict[str, Any]) -> str:
    """The matched route's full template (``/v1/operations/{operation_id}``), ``unmatched`` if no
    route matched. A route of an included router knows its template below the router's mount
    point only: the mount's static prefix is taken from the request path (as many segments as the
    template lacks)."""
    template = getattr(scope.get("route"), "path_format", None)
    if not template:
        return "unmatched"
    parts = str(scope.get("path", "")).split("/")
    keep = len(parts) - template.count("/")
    if keep < 1 or any("/" in str(v) for v in scope.get("path_params", {}).values()):
        return str(template)
    return "/".join(parts[:keep]) + str(template)


def new_request_id(header: str | None) -> str:
    return header if header is not None and REQUEST_ID.match(header) else uuid.uuid4().hex


class Observe:
    """Pure ASGI middleware (add it last: it must be outermost but for Starlette's error pages)."""

    def __init__(self, app: Any, metrics: HttpMetrics | None = None):
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        header = next((v.decode("latin-1") for k, v in scope.get("headers", []) if k == b"x-request-id"), None)
        rid = new_request_id(header)
        token, op_token = logs.request_id.set(rid), logs.operation_id.set(None)
        status = 500
        start = time.perf_counter()

        async def send_with_id(message: dict[str, Any]) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message = {**message, "headers": [*message.get("headers", []), (b"x-request-id", rid.encode())]}
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            elapsed = time.perf_counter() - start
            route, method = route_of(scope), scope.get("method", "")
            if self.metrics is not None:
                self.metrics.requests.labels(method, route, str(status)).inc()
                self.metrics.latency.labels(method, route).observe(elapsed)
            access_log.info("%s %s %s", method, route, status, extra={
                "method": method, "route": route, "status": status, "duration_ms": round(elapsed * 1000, 1),
            })
            logs.request_id.reset(token)
            logs.operation_id.reset(op_token)


def exposition(*registries: CollectorRegistry) -> bytes:
    return b"".join(generate_latest(r) for r in registries)
