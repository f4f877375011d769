"""Node down: operations wait while the node is stopped and complete after it returns."""

from __future__ import annotations

import time
from pathlib import Path

import httpx
import pytest

from gateway.conftest import GatewayProcess, deploy_chain, gateway_env, rpc
from gateway.test_load import check_exactly_once, h32, setup_holder
from scf import devchain

pytestmark = pytest.mark.slow


def test_node_down_then_back(tmp_path: Path) -> None:
    state = tmp_path / "anvil-state.json"
    # a chain that mines every second, so transactions sit in its pool when it goes down
    chain = deploy_chain(tmp_path, block_time=1, state=str(state))
    gw = GatewayProcess(gateway_env(chain, tmp_path, SCF_GATEWAY_NODE_RETRY_S="0.2",
                                    SCF_GATEWAY_RESEND_AFTER_S="3"), log=tmp_path / "gateway.log")
    try:
        gw.start()
        signer, key, to, token = setup_holder(gw.url, chain)
        accepted = []
        with httpx.Client(base_url=gw.url, headers={"X-API-Key": key}, timeout=30) as c:
            for _ in range(20):
                r = c.post(f"/v1/holdings/{token}/split-transfer", json={"to": to, "value": 1, "document_hash": h32()})
                assert r.status_code == 202, r.text
                accepted.append(r.json()["id"])
            port = chain.chain.port
            chain.chain.stop()  # SIGTERM: anvil dumps its state; its pool of pending transactions is lost
            assert c.get("/v1/health").json()["node"]["ok"] is False
            # a new write cannot be simulated while the node is down: 503, nothing stored
            r = c.post(f"/v1/holdings/{token}/split-transfer", json={"to": to, "value": 1, "document_hash": h32()})
            assert r.status_code == 503 and r.json()["code"] == "NODE_UNAVAILABLE"
            time.sleep(2)
            ops = c.get("/v1/operations", params={"limit": 1000}).json()
            pending = [o for o in ops if o["id"] in accepted and o["state"] not in ("confirmed", "failed")]
            assert pending, "every operation finished before the node went down"
            chain.chain = devchain.start(port, block_time=1, state=str(state))
            check_exactly_once(chain, tmp_path / "gateway.db", signer, accepted)
            assert int(rpc(chain.url, "eth_getTransactionCount", signer, "latest"), 16) >= len(accepted)
            r = c.get(f"/v1/operations/{accepted[-1]}", params={"wait": "true", "timeout": 30})
            assert r.json()["state"] == "confirmed"
    finally:
        gw.stop()
        chain.chain.stop()
