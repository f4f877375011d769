"""Guarantees docs/gateway.md promises, one test each: no start without a node, "nonce too high"
re-syncs, batched sends, a reorged receipt goes back to tracking, intermediate webhooks retried.
(The PostgreSQL lock refusing a second gateway: test_store_lock.py.)"""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from chain_gateway.events import verify_webhook
from chain_gateway.main import create_app
from gateway import proxied
from gateway.conftest import OPERATOR_API_KEY, Chain, gateway_settings, rpc, wait_until
from gateway.proxied import Env, assert_exactly_once
from scf import devchain

env = proxied.env  # the fixture

SECRET = "guarantees-webhook-secret"


def test_refuses_to_start_without_a_node(chain: Chain, tmp_path: Path) -> None:
    settings = gateway_settings(chain, tmp_path, rpc_url=f"http://127.0.0.1:{devchain.free_port()}")
    with pytest.raises(RuntimeError, match="cannot read eth_chainId"), TestClient(create_app(settings)):
        pass


def test_nonce_too_high_resyncs(env: Env) -> None:
    """The node answers a send with "nonce too high": the worker re-syncs (reads the chain's
    pending nonce again) and sends again; the operation confirms once, nothing fails."""
    env.proxy.add("eth_sendRawTransaction", "error", message="nonce too high", code=-32000, times=1)
    resyncs = env.proxy.add("eth_getTransactionCount", "forward", match=lambda p: p[1:] == ["pending"])
    op_id, doc = env.split()
    assert_exactly_once(env, {op_id: doc}, timeout=30)
    assert resyncs.hits >= 1


def test_batched_send(env: Env) -> None:
    """SEND_BATCH=true: a signer's transactions leave as one JSON-RPC batch; all confirm once."""
    gw: Any = env.client.app.state.gateway
    gw.settings.send_batch = True
    rpc(env.chain.url, "evm_setAutomine", False)  # let operations pile up, then one batch
    # the first send is held, so the operations made meanwhile are signed together and leave as one
    # batch (without it each arriving operation could leave alone, before the next one exists)
    env.proxy.add("eth_sendRawTransaction", "delay", delay_s=3, times=1)
    docs = dict(env.split() for _ in range(20))
    wait_until(lambda: all(op.state.value == "submitted" and op.sent_at for op in env.ops() if op.id in docs), 20)
    rpc(env.chain.url, "evm_setAutomine", True)
    rpc(env.chain.url, "evm_mine")
    assert_exactly_once(env, docs, timeout=60)
    assert env.proxy.largest["eth_sendRawTransaction"] > 1


def test_batch_gap_is_sent_again_in_order(env: Env) -> None:
    """SEND_BATCH=true and the node loses one transaction in the middle of a batch (a node running
    a batch's items concurrently can park one whose predecessor it has not seen yet): its pending
    nonce stops short of the batch, so the transactions from there on are sent again one at a
    time, in nonce order, and every operation confirms once, long before the resend timer."""
    from chain_gateway import metrics

    gw: Any = env.client.app.state.gateway
    gw.settings.send_batch = True
    gw.settings.resend_after_s, gw.settings.bump_after_s = 120.0, 240.0  # the timer is not what repairs it
    rpc(env.chain.url, "evm_setAutomine", False)
    env.proxy.add("eth_sendRawTransaction", "delay", delay_s=3, times=1)  # the rest pile up: one batch
    calls: list[Any] = []

    def fifth(params: list[Any]) -> bool:
        calls.append(params)
        return len(calls) == 5

    # answered as taken, never forwarded: the node does not have it
    lost = env.proxy.add("eth_sendRawTransaction", "result", value="0x" + "00" * 32, match=fifth)
    gaps = metrics.BATCH_GAPS._value.get()
    docs = dict(env.split() for _ in range(20))
    wait_until(lambda: lost.hits == 1 and len(calls) > 5, 20)  # lost, then sent again
    wait_until(lambda: all(op.sent_at for op in env.ops() if op.id in docs), 20)
    rpc(env.chain.url, "evm_setAutomine", True)
    rpc(env.chain.url, "evm_mine")
    assert_exactly_once(env, docs, timeout=30)
    assert metrics.BATCH_GAPS._value.get() == gaps + 1
    assert env.proxy.largest["eth_sendRawTransaction"] > 1  # the batch did leave as one


def test_reorged_receipt_goes_back_to_tracking(env: Env) -> None:
    """At confirmation depth the receipt names another block than the one recorded (a reorg moved
    the transaction): the operation goes back to tracking, its transaction is sent again, and it
    confirms once with the receipt's block."""
    gw: Any = env.client.app.state.gateway
    gw.settings.confirmations = 2
    op_id, doc = env.split()
    row = wait_until(lambda: next((o for o in env.ops() if o.id == op_id and o.state.value == "mined"), None), 20)
    moved = {"transactionHash": row.tx_hash, "blockNumber": hex(row.block_number or 0), "blockHash": "0x" + "ee" * 32,
             "gasUsed": "0x1", "status": "0x1", "logs": []}
    fake = env.proxy.add("eth_getTransactionReceipt", "result", value=moved, times=1)
    sends = env.proxy.seen["eth_sendRawTransaction"]
    rpc(env.chain.url, "evm_mine")
    wait_until(lambda: fake.hits == 1, 10)
    assert_exactly_once(env, {op_id: doc}, timeout=30)
    assert env.proxy.seen["eth_sendRawTransaction"] > sends  # tracked again: re-broadcast
    final = next(o for o in env.ops() if o.id == op_id)
    assert final.block_hash != moved["blockHash"]


class HookReceiver:
    """Answers the first `fail` deliveries of each intermediate state with 500, then 204."""

    def __init__(self, fail: int):
        self.received: list[tuple[str, str, int]] = []  # (operation id, state, status)
        outer, lock = self, threading.Lock()

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802
                body = self.rfile.read(int(self.headers["Content-Length"]))
                assert verify_webhook(SECRET, self.headers.get("X-SCF-Signature", ""), body)
                op = json.loads(body)["operation"]
                with lock:
                    seen = sum(1 for i, st, _ in outer.received if i == op["id"] and st == op["state"])
                    status = 500 if op["state"] not in ("confirmed", "failed") and seen < fail else 204
                    outer.received.append((op["id"], op["state"], status))
                self.send_response(status)
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = HTTPServer(("127.0.0.1", devchain.free_port()), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/hook"


def test_intermediate_webhooks_retried(chain: Chain, tmp_path: Path) -> None:
    hook = HookReceiver(fail=2)
    settings = gateway_settings(chain, tmp_path, webhook_url=hook.url, webhook_secret=SECRET)
    try:
        with TestClient(create_app(settings)) as client:
            r = client.put("/v1/system/grace-period", json={"grace_period_seconds": 86400 * 3},
                           headers={"X-API-Key": OPERATOR_API_KEY}, params={"wait": "true"})
            op_id = r.json()["id"]
            wait_until(lambda: [s for i, st, s in hook.received if i == op_id and st == "submitted"] == [500, 500, 204],
                       15)
    finally:
        hook.server.shutdown()
        hook.server.server_close()
