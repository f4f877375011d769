"""Slow node answers do not stall everything: two eth_calls the node answers only after 10 s leave
simulations, other reads and the signers' sends flowing (the JSON-RPC client keeps separate lanes
for sends, simulations/calls and other reads, each with its own in-flight limit and pool)."""

from __future__ import annotations

from typing import Any

from gateway import proxied
from gateway.proxied import Env, assert_exactly_once

env = proxied.env  # the fixture

SLOW_S = 10.0


def test_two_slow_eth_calls_do_not_stall_sends_or_reads(env: Env) -> None:
    gw: Any = env.client.app.state.gateway
    gw.rpc.timeout = SLOW_S + 20  # the slow calls are answered, not timed out
    slow = env.proxy.add("eth_call", "delay", delay_s=SLOW_S, times=2)
    token = gw.contracts.address("CertificateToken")
    data = gw.contracts.encode("CertificateToken", "balanceOf", [env.supplier])
    pending = [env.client.portal.start_task_soon(gw.rpc.eth_call, {"to": token, "data": data})  # type: ignore[union-attr]
               for _ in range(2)]
    while slow.hits < 2:  # both slow calls are at the node
        assert not any(f.done() for f in pending)
    docs = {}
    for _ in range(5):  # each: an owner check (eth_call), a simulation, a send, receipts
        r = env.api.post(f"/v1/holdings/{env.token}/split-transfer", env.key,
                         {"to": env.to, "value": 1, "document_hash": "0x" + "ab" * 31 + f"{len(docs):02x}"})
        assert r.status_code == 200 and r.json()["state"] == "confirmed", r.text
        docs[r.json()["id"]] = r.json()["args"]["document_hash"]
    assert env.client.get("/v1/health").json()["node"]["ok"] is True
    assert not any(f.done() for f in pending), "the work above waited for the slow calls"
    assert all(int(f.result(30), 16) >= 0 for f in pending)
    assert_exactly_once(env, docs)
