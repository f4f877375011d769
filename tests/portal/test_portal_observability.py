"""The portal's /metrics (requests by route template and status) and request ids."""

from __future__ import annotations

from typing import Any

import httpx
from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families

from portal.app import create_app
from portal.client import Api
from portal.settings import PortalSettings


def test_metrics_count_requests_by_route_and_status() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, json={})

    settings = PortalSettings(gateway_url="http://gw", auditor_url="http://aud")
    app = create_app(settings)
    app.state.api = Api(settings, transport=httpx.MockTransport(handler))
    with TestClient(app, base_url="http://portal") as client:
        r = client.get("/login", headers={"X-Request-Id": "portal-1"})
        assert r.status_code == 200 and r.headers["x-request-id"] == "portal-1"
        assert client.get("/no-such-page").status_code == 404
        text = client.get("/metrics").text
    samples: dict[tuple[str, tuple[Any, ...]], float] = {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for f in text_string_to_metric_families(text) for s in f.samples}
    ok = (("method", "GET"), ("route", "/login"), ("status", "200"))
    assert samples[("scf_portal_http_requests_total", ok)] == 1
    missing = (("method", "GET"), ("route", "unmatched"), ("status", "404"))
    assert samples[("scf_portal_http_requests_total", missing)] == 1
