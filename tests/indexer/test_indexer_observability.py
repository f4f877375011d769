"""Observability of the indexer: the auditor API's /metrics (from the follower's status row, so
it holds with follower and API in separate processes), /v1/ready failing for each reason, request
ids and JSON log lines (docs/indexer.md "Observability")."""

from __future__ import annotations

import io
import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families

from indexer.api.main import create_app
from indexer.settings import Settings
from scf_core.apikeys import hash_key
from tests.logcapture import captured_json_logs

KEY = "auditor-observability-key"


def scrape(client: TestClient) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    r = client.get("/metrics")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/plain"), r.text
    return {(s.name, tuple(sorted(s.labels.items()))): s.value
            for f in text_string_to_metric_families(r.text) for s in f.samples}


def follow_until_caught_up(ix: Any, system: Any) -> None:
    """Follow until the head is indexed and the status row written (at most once a second)."""
    head = system.scenario.w3.eth.block_number
    until = time.monotonic() + 1.5
    ix.follow(stop=lambda: (ix.checkpoint() or {}).get("block_number") == head and time.monotonic() > until)


def api_for(url: str, **overrides: Any) -> TestClient:
    return TestClient(create_app(Settings(database_url=url, auditor_key_hashes=hash_key(KEY), **overrides)))


@pytest.fixture
def captured() -> Iterator[io.StringIO]:
    yield from captured_json_logs()


def test_metrics_move_with_the_follower(fresh_system: Any, tmp_path: Path, captured: io.StringIO) -> None:
    system, s = fresh_system, fresh_system.scenario
    s.setup()
    s.issue(2)
    url = f"sqlite:///{tmp_path / 'index.db'}"
    ix = system.indexer(url)
    try:
        follow_until_caught_up(ix, system)
        with api_for(url) as client:
            m1 = scrape(client)
            head = s.w3.eth.block_number
            assert m1[("scf_indexer_store_up", ())] == 1
            assert m1[("scf_indexer_indexed_block", ())] == head and m1[("scf_indexer_chain_head", ())] == head
            assert m1[("scf_indexer_lag_blocks", ())] == 0
            assert m1[("scf_indexer_events_indexed_total", ())] > 0
            assert m1[("scf_indexer_reorgs_total", ())] == 0
            # a reorg: branch A indexed, then replaced by branch B
            snapshot = system.rpc("evm_snapshot")
            s.issue(1)
            follow_until_caught_up(ix, system)
            assert system.rpc("evm_revert", snapshot)
            s.issue(2)
            s.trade(3)
            follow_until_caught_up(ix, system)
            m2 = scrape(client)
            assert ix.reorgs >= 1 and m2[("scf_indexer_reorgs_total", ())] == ix.reorgs
            assert m2[("scf_indexer_indexed_block", ())] == s.w3.eth.block_number > head
            assert m2[("scf_indexer_events_indexed_total", ())] > m1[("scf_indexer_events_indexed_total", ())]
            assert client.get("/v1/members", headers={"X-API-Key": KEY}).status_code == 200
            m3 = scrape(client)
            assert m3[("scf_indexer_api_http_requests_total",
                       (("method", "GET"), ("route", "/v1/members"), ("status", "200")))] == 1
    finally:
        ix.close()
    lines = [json.loads(line) for line in captured.getvalue().splitlines()]
    assert any(line["logger"].startswith("indexer") and line["message"].startswith("indexed blocks")
               for line in lines)
    assert any("reorg" in line["message"] for line in lines)


def test_errors_counted_and_store_down_is_shown(fresh_system: Any, tmp_path: Path) -> None:
    system = fresh_system
    url = f"sqlite:///{tmp_path / 'index.db'}"
    ix = system.indexer(url, poll_interval_s=0.01, max_backoff_s=0.01)
    try:
        follow_until_caught_up(ix, system)
        ix.rpc.url = "http://127.0.0.1:9"  # the node goes away: retryable errors, counted
        calls = iter(range(1000))
        ix.follow(stop=lambda: next(calls) > 40)
    finally:
        ix.close()
    with api_for(url) as client:
        m = scrape(client)
        assert m[("scf_indexer_errors_total", ())] >= 1 and m[("scf_indexer_consecutive_failures", ())] >= 1
    with api_for(f"sqlite:///{tmp_path / 'missing.db'}") as client:
        assert scrape(client)[("scf_indexer_store_up", ())] == 0


def test_ready_store_and_lag(fresh_system: Any, tmp_path: Path) -> None:
    system = fresh_system
    system.scenario.setup()
    system.rpc("anvil_mine", hex(40))
    url = f"sqlite:///{tmp_path / 'index.db'}"
    lagging = system.indexer(url, confirmations=30)  # indexes up to head - 30: 30 blocks behind
    try:
        follow_until_caught_up_to = system.scenario.w3.eth.block_number - 30
        lagging.follow(stop=lambda: (lagging.checkpoint() or {}).get("block_number") == follow_until_caught_up_to)
    finally:
        lagging.close()
    with api_for(url) as client:  # default bound: 20 blocks
        r = client.get("/v1/ready")
        assert r.status_code == 503, r.text
        body = r.json()
        assert body["code"] == "NOT_READY" and body["details"]["failed"] == ["follower"]
        assert body["details"]["follower"]["lag"] == 30
        assert client.get("/health").status_code == 200  # alive all the same
    with api_for(url, ready_max_lag_blocks=30) as client:
        r = client.get("/v1/ready")
        assert r.status_code == 200 and r.json()["status"] == "ready", r.text
    with api_for(f"sqlite:///{tmp_path / 'missing.db'}") as client:  # no schema: the store is unreadable
        r = client.get("/v1/ready")
        assert r.status_code == 503 and r.json()["details"]["failed"] == ["store"]
    openapi = TestClient(create_app(Settings(database_url=url))).get("/openapi.json").json()
    assert "503" in openapi["paths"]["/v1/ready"]["get"]["responses"]


def test_request_id_and_no_key_in_the_logs(fresh_system: Any, tmp_path: Path, captured: io.StringIO) -> None:
    url = f"sqlite:///{tmp_path / 'index.db'}"
    ix = fresh_system.index(url)
    ix.close()
    with api_for(url) as client:
        r = client.get("/v1/members", headers={"X-API-Key": KEY, "X-Request-Id": "ix-req-1"})
        assert r.status_code == 200 and r.headers["x-request-id"] == "ix-req-1"
        r = client.get("/v1/members", headers={"Authorization": "Bearer wrong-key-123456", "X-Request-Id": "ix-req-2"})
        assert r.status_code == 403 and r.headers["x-request-id"] == "ix-req-2"
        assert len(client.get("/v1/members").headers["x-request-id"]) == 32
    text = captured.getvalue()
    access = [json.loads(line) for line in text.splitlines() if '"scf.access"' in line]
    assert [(a["request_id"], a["status"]) for a in access[:2]] == [("ix-req-1", 200), ("ix-req-2", 403)]
    assert KEY not in text and "wrong-key-123456" not in text
