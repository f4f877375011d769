"""Exactly once behind an unreliable RPC (tests/faultproxy.py in front of anvil): sends the node
took but answered with an error, lookups by hash that answer null for a while (a lagging or
load-balanced RPC), transient send errors of every kind."""

from __future__ import annotations

import pytest

from gateway import proxied
from gateway.conftest import wait_until
from gateway.proxied import LOOKUPS, Env, assert_exactly_once

env = proxied.env  # the fixture


def test_sends_answered_with_errors_and_lagging_lookups(env: Env) -> None:
    """The node takes every third send but answers it with an error, and a lookup by hash answers
    null for 3 s after it is first asked (longer than resend_after_s): no operation is signed
    twice, each takes effect exactly once, none is stuck."""
    sends = env.proxy.add("eth_sendRawTransaction", "error", forward=True, message="internal error",
                          probability=0.35)
    lags = env.proxy.add(LOOKUPS, "null", per_key_s=3.0)
    docs = dict(env.split() for _ in range(200))
    assert_exactly_once(env, docs)
    assert sends.hits >= 40 and lags.hits >= 200, (sends.hits, lags.hits)


def test_consumed_nonce_without_evidence_waits_visibly(env: Env) -> None:
    """The node mines the transaction but shows neither its receipt, nor the transaction by hash,
    nor the block's transactions: the operation is never signed again; after evidence_alert_s it
    shows NONCE_UNRESOLVED (still submitted); once the node shows the evidence, it confirms once."""
    gw = env.client.app.state.gateway  # type: ignore[attr-defined]
    gw.settings.evidence_alert_s = 1.0
    hidden = env.proxy.add((*LOOKUPS, "eth_getBlockByNumber"), "null")
    op_id, doc = env.split()
    row = wait_until(lambda: next((o for o in env.ops() if o.id == op_id and o.error), None), 20)
    assert row.state.value == "submitted" and row.error["code"] == "NONCE_UNRESOLVED", row
    assert len(row.tx_hashes) == 1 and row.attempts == 1  # signed once, never again
    env.proxy.remove(hidden)
    assert_exactly_once(env, {op_id: doc}, timeout=30)
    row = next(o for o in env.ops() if o.id == op_id)
    assert row.error is None and row.attempts == 1


@pytest.mark.parametrize("fault", ["internal_error", "http_502", "timeout", "reset", "non_json"])
def test_transient_send_errors_never_fail_an_operation(env: Env, fault: str) -> None:
    """A third of the sends meet a transient error (a JSON-RPC "internal error" without the node
    taking the transaction, an HTTP 502, no answer before the client's timeout, a reset connection,
    an HTTP 200 that is not JSON): every operation is retried and confirms exactly once."""
    gw = env.client.app.state.gateway  # type: ignore[attr-defined]
    send = "eth_sendRawTransaction"
    rule = {
        "internal_error": lambda: env.proxy.add(send, "error", message="internal error", probability=0.35),
        "http_502": lambda: env.proxy.add(send, "http_status", status=502, probability=0.35),
        # the node takes it, the answer comes after the client gave up
        "timeout": lambda: env.proxy.add(send, "delay", delay_s=gw.rpc.timeout + 0.5, probability=0.1),
        "reset": lambda: env.proxy.add(send, "reset", probability=0.35),
        "non_json": lambda: env.proxy.add(send, "non_json", forward=True, probability=0.35),
    }[fault]()
    docs = dict(env.split() for _ in range(40))
    assert_exactly_once(env, docs, timeout=150)
    assert rule.hits >= 3, rule.hits
