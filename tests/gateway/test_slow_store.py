"""A slow store round trip in one signer's path (an injected 3 s query) stalls neither the event
loop nor the other signers: the submitter and the webhook outbox use the store from worker threads."""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import event

from chain_gateway.main import create_app
from gateway import proxied
from gateway.conftest import OPERATOR_API_KEY, Chain, gateway_settings, wait_until
from gateway.proxied import Env, assert_exactly_once
from gateway.test_guarantees import SECRET, HookReceiver

env = proxied.env  # the fixture

SLOW_S = 3.0


def test_slow_query_of_one_signer_does_not_stall_the_others(env: Env) -> None:
    gw: Any = env.client.app.state.gateway
    started, finished = threading.Event(), threading.Event()
    supplier = env.supplier.lower()

    def slow(conn: Any, cursor: Any, statement: str, params: Any, context: Any, executemany: bool) -> None:
        # the supplier's nonce row, read only by its signer worker when it signs
        if "gw_nonce" in statement and supplier in str(params) and not started.is_set():
            started.set()
            time.sleep(SLOW_S)
            finished.set()

    event.listen(gw.engine, "before_cursor_execute", slow)
    try:
        op_id, doc = env.split()  # the supplier's worker meets the slow query
        assert started.wait(10)
        # meanwhile: the operator's operations are signed, sent and confirmed, and health answers
        for i in range(3):
            r = env.client.put("/v1/system/grace-period", json={"grace_period_seconds": 86400 + i},
                               headers={"X-API-Key": OPERATOR_API_KEY}, params={"wait": "true"})
            assert r.status_code == 200 and r.json()["state"] == "confirmed", r.text
        assert env.client.get("/v1/health").status_code == 200
        assert not finished.is_set(), "the work above waited for the slow query"
    finally:
        event.remove(gw.engine, "before_cursor_execute", slow)
    assert_exactly_once(env, {op_id: doc})


def test_slow_outbox_query_does_not_stall_the_gateway(chain: Chain, tmp_path: Path) -> None:
    """The webhook outbox worker's query made 3 s slow: meanwhile operations confirm and health
    answers; the final state is delivered afterwards."""
    hook = HookReceiver(fail=0)
    settings = gateway_settings(chain, tmp_path, webhook_url=hook.url, webhook_secret=SECRET)
    started, finished = threading.Event(), threading.Event()

    def slow(conn: Any, cursor: Any, statement: str, params: Any, context: Any, executemany: bool) -> None:
        if statement.lstrip().upper().startswith("SELECT") and "gw_webhook_outbox" in statement \
                and not started.is_set():
            started.set()
            time.sleep(SLOW_S)
            finished.set()

    try:
        with TestClient(create_app(settings)) as client:
            engine = client.app.state.gateway.engine  # type: ignore[attr-defined]
            event.listen(engine, "before_cursor_execute", slow)
            try:
                assert started.wait(10)  # the outbox worker polls every second
                r = client.put("/v1/system/grace-period", json={"grace_period_seconds": 86400 * 5},
                               headers={"X-API-Key": OPERATOR_API_KEY}, params={"wait": "true"})
                assert r.status_code == 200 and r.json()["state"] == "confirmed", r.text
                assert client.get("/v1/health").status_code == 200
                assert not finished.is_set(), "the work above waited for the slow query"
            finally:
                event.remove(engine, "before_cursor_execute", slow)
            op_id = r.json()["id"]
            wait_until(lambda: any(i == op_id and st == "confirmed" for i, st, _ in hook.received), 15)
    finally:
        hook.server.shutdown()
        hook.server.server_close()
