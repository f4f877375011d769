"""A chain that loses blocks (anvil's evm_revert: a node restarted without its latest state, or a
reorg deeper than the confirmation depth): the running gateway notices without a restart, sends
the operations that are no longer on chain again at their own nonces (once), and nothing is stuck."""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from chain_gateway.main import create_app
from gateway.conftest import Api, deploy_chain, gateway_settings, rpc, wait_until
from gateway.proxied import Env, assert_exactly_once
from tests.faultproxy import FaultProxy


@pytest.mark.parametrize("fork", [False, True], ids=["head_back", "longer_fork"])
def test_lost_blocks_are_noticed_and_operations_sent_again(tmp_path: Path, fork: bool) -> None:
    """head_back: the head goes back below the confirmed blocks; longer_fork: then 40 other blocks
    are mined at once (a reorg to a longer chain: the head is higher, the confirmed block's hash
    changed)."""
    chain = deploy_chain(tmp_path)
    proxy = FaultProxy(chain.url).start()  # no rule: Env's helpers want one
    settings = gateway_settings(chain, tmp_path, resend_after_s=0.5, bump_after_s=2.0, node_retry_s=0.1,
                                reorg_check_s=0.5)
    try:
        with TestClient(create_app(settings)) as client:
            api = Api(client, chain)
            core, core_key = api.onboard("core_enterprise", credit=10**12)
            sup, sup_key = api.onboard("supplier")
            to, _ = api.onboard("supplier")
            issued = api.issue(core_key, sup, face=10**6)
            accepted = api.post(f"/v1/certificates/{issued['certificate_id']}/accept", sup_key).json()
            assert accepted["state"] == "confirmed"
            env = Env(chain, proxy, client, api, sup, sup_key, to, issued["token_id"])
            snapshot = rpc(chain.url, "evm_snapshot")
            docs = dict(env.split() for _ in range(10))
            wait_until(lambda: all(op.state.value == "confirmed" for op in env.ops() if op.id in docs), 30)
            # the node loses the blocks of 10 confirmed operations; nothing new is submitted
            before = {op.id: op.block_hash for op in env.ops() if op.id in docs}
            assert rpc(chain.url, "evm_revert", snapshot) is True
            if fork:
                rpc(chain.url, "anvil_mine", hex(40))
            # the idle gateway notices and sends them again
            wait_until(lambda: all(op.block_hash not in (None, before[op.id]) and op.state.value == "confirmed"
                                   for op in env.ops() if op.id in docs), 30)
            assert_exactly_once(env, docs, timeout=30)
            rows = [op for op in env.ops() if op.id in docs]
            assert all(op.error is None and op.attempts == 1 and len(op.tx_hashes) == 1 for op in rows)
            # and it goes on: new operations take the next nonces
            docs.update(env.split() for _ in range(5))
            assert_exactly_once(env, docs, timeout=30)
            assert not [op for op in env.ops() if op.kind == "system.nonce_fill"]
    finally:
        proxy.stop()
        chain.chain.stop()
