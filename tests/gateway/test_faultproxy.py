"""The fault-injecting JSON-RPC proxy (tests/faultproxy.py) does what its rules say."""

from __future__ import annotations

import time
from collections.abc import Iterator

import httpx
import pytest
from eth_account import Account

from scf import devchain
from tests.faultproxy import FaultProxy

KEY = "0x59c6995e998f97a5a0044966f0945389dc9e86dae88c7a8412f4603b6b78690d"  # anvil account 1


@pytest.fixture(scope="module")
def proxy() -> Iterator[FaultProxy]:
    chain = devchain.start()
    p = FaultProxy(chain.url).start()
    try:
        yield p
    finally:
        p.stop()
        chain.stop()


def post(url: str, payload: object) -> httpx.Response:
    return httpx.post(url, json=payload, timeout=10)


def one(method: str, *params: object, rid: int = 1) -> dict[str, object]:
    return {"jsonrpc": "2.0", "id": rid, "method": method, "params": list(params)}


def test_rules(proxy: FaultProxy) -> None:
    proxy.clear()
    assert "result" in post(proxy.url, one("eth_blockNumber")).json()
    rule = proxy.add("eth_blockNumber", "error", message="internal error", times=1)
    assert post(proxy.url, one("eth_blockNumber")).json()["error"]["message"] == "internal error"
    assert "result" in post(proxy.url, one("eth_blockNumber")).json() and rule.hits == 1
    # forward, then an error: the node has the transaction
    acct = Account.from_key(KEY)
    raw = Account.sign_transaction({"chainId": 31337, "nonce": 0, "to": acct.address, "value": 0, "gas": 21000,
                                    "gasPrice": 0}, KEY)
    proxy.add("eth_sendRawTransaction", "error", forward=True, message="internal error")
    proxy.add("eth_getTransactionReceipt", "null", per_key_s=0.5)
    assert "error" in post(proxy.url, one("eth_sendRawTransaction", "0x" + raw.raw_transaction.hex())).json()
    h = "0x" + raw.hash.hex()
    assert post(proxy.url, one("eth_getTransactionReceipt", h)).json()["result"] is None  # lagging
    assert post(proxy.url, one("eth_getTransactionByHash", h)).json()["result"] is not None
    time.sleep(0.6)
    assert post(proxy.url, one("eth_getTransactionReceipt", h)).json()["result"]["status"] == "0x1"
    # a batch answer missing one item
    proxy.add("eth_chainId", "drop", times=1)
    replies = post(proxy.url, [one("eth_chainId", rid=1), one("eth_blockNumber", rid=2)]).json()
    assert [r["id"] for r in replies] == [2]
    # whole-request faults
    proxy.add("eth_gasPrice", "http_status", status=503, times=1)
    assert post(proxy.url, one("eth_gasPrice")).status_code == 503
    proxy.add("eth_gasPrice", "non_json", times=1)
    r = post(proxy.url, one("eth_gasPrice"))
    assert r.status_code == 200 and r.text.startswith("<html>")
    proxy.add("eth_gasPrice", "reset", times=1)
    with pytest.raises(httpx.HTTPError):
        post(proxy.url, one("eth_gasPrice"))
    proxy.add("eth_call", "delay", delay_s=0.5, times=1)
    started = time.monotonic()
    post(proxy.url, one("eth_call", {"to": acct.address, "data": "0x"}, "latest"))
    assert time.monotonic() - started >= 0.5
    assert proxy.seen["eth_gasPrice"] == 3
    proxy.clear()
