"""A gateway behind the fault-injecting JSON-RPC proxy (tests/faultproxy.py), with a supplier
holding a certificate: the `env` fixture and exactly-once checks counted on chain."""

from __future__ import annotations

import secrets
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session, select

from chain_gateway.main import create_app
from chain_gateway.models import Operation
from gateway.conftest import Api, Chain, deploy_chain, gateway_settings, rpc, wait_until
from scf_core.abi import event_topic
from tests.faultproxy import FaultProxy

LOOKUPS = ("eth_getTransactionReceipt", "eth_getTransactionByHash")
HOLDING_CREATED = event_topic("HoldingCreated(uint256,uint256,uint256,address,uint256,uint32,bytes32)")


@dataclass
class Env:
    chain: Chain
    proxy: FaultProxy
    client: TestClient
    api: Api
    supplier: str
    key: str
    to: str
    token: int

    def split(self) -> tuple[str, str]:
        """A split-transfer of 1 (no wait); returns (operation id, document hash)."""
        doc = "0x" + secrets.token_hex(32)
        r = self.api.post(f"/v1/holdings/{self.token}/split-transfer", self.key,
                          {"to": self.to, "value": 1, "document_hash": doc}, wait=False)
        assert r.status_code == 202, r.text
        return r.json()["id"], doc

    def ops(self) -> list[Operation]:
        with Session(self.client.app.state.gateway.engine) as s:  # type: ignore[attr-defined]
            return list(s.exec(select(Operation).where(Operation.signer == self.supplier)).all())


@pytest.fixture
def env(tmp_path: Path) -> Iterator[Env]:
    chain = deploy_chain(tmp_path)
    proxy = FaultProxy(chain.url).start()
    settings = gateway_settings(chain, tmp_path, rpc_url=proxy.url, resend_after_s=0.5, bump_after_s=2.0,
                                node_retry_s=0.1, rpc_timeout_s=2.0)
    try:
        with TestClient(create_app(settings)) as client:
            api = Api(client, chain)
            core, core_key = api.onboard("core_enterprise", credit=10**12)
            sup, sup_key = api.onboard("supplier")
            to, _ = api.onboard("supplier")
            issued = api.issue(core_key, sup, face=10**6)
            r = api.post(f"/v1/certificates/{issued['certificate_id']}/accept", sup_key)
            assert r.json()["state"] == "confirmed", r.text
            yield Env(chain, proxy, client, api, sup, sup_key, to, issued["token_id"])
    finally:
        proxy.stop()
        chain.chain.stop()


def documents_on_chain(env: Env) -> Counter[str]:
    """How many holdings each document hash created on chain (HoldingCreated events)."""
    address = env.chain.manifest.contracts["CertificateToken"].address
    logs = rpc(env.chain.url, "eth_getLogs", {"address": address, "fromBlock": "0x0", "toBlock": "latest",
                                              "topics": [HOLDING_CREATED]})
    return Counter("0x" + lg["data"][-64:] for lg in logs)


def assert_exactly_once(env: Env, docs: dict[str, str], timeout: float = 120) -> None:
    """Every operation confirmed, each document's effect on chain exactly once, no nonce reused."""
    try:
        wait_until(lambda: all(op.state.value in ("confirmed", "failed") for op in env.ops()), timeout, 0.25)
    except AssertionError:
        stuck = [(op.nonce, op.state.value, op.attempts, op.sent_at, op.error) for op in env.ops()
                 if op.state.value not in ("confirmed", "failed")]
        chain_nonce = int(rpc(env.chain.url, "eth_getTransactionCount", env.supplier, "latest"), 16)
        raise AssertionError(f"not final (chain nonce {chain_nonce}): {stuck[:5]} ... {len(stuck)}") from None
    env.proxy.clear()
    ops = {op.id: op for op in env.ops()}
    bad = {i: (ops[i].state.value, ops[i].error) for i in docs if ops[i].state.value != "confirmed"}
    assert not bad, bad
    on_chain = documents_on_chain(env)
    twice = {d: n for d, n in on_chain.items() if d in docs.values() and n != 1}
    assert not twice, f"executed more than once: {twice}"
    assert all(on_chain[d] == 1 for d in docs.values())
    nonces = [op.nonce for op in ops.values() if op.nonce is not None]
    assert len(nonces) == len(set(nonces))
    chain_nonce = int(rpc(env.chain.url, "eth_getTransactionCount", env.supplier, "latest"), 16)
    assert chain_nonce == len(nonces)
    holding: dict[str, Any] = env.api.get(f"/v1/holdings/{env.token}", env.key).json()
    assert holding["value"] == 10**6 - len(docs)
