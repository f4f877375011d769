"""Reorgs on the dev node (evm_snapshot / evm_revert, then a different branch): after the
indexer follows the new branch, its SQL state equals a fresh index of that branch."""

from __future__ import annotations

import random
from typing import Any

import pytest
from test_indexer_aggregates import assert_aggregates_exact

from indexer import store
from indexer.errors import DeepReorg
from indexer.reconcile import reconcile


def _branch(system: Any, seed: int, steps: int, settle: bool) -> None:
    s = system.scenario
    s.rng = random.Random(seed)
    s.trade(steps)
    if settle:
        s.settle()


def assert_matches_chain_and_fresh_index(ix: Any, system: Any, databases: Any, dump_db: Any) -> None:
    """After a reorg: SQL agrees with the chain and equals a fresh index of the new branch."""
    _, diffs = reconcile(ix.engine, ix.rpc, ix.manifest)
    assert diffs == [], "\n".join(map(str, diffs))
    assert_aggregates_exact(ix.engine)  # the rollback kept the report aggregates exact
    fresh = system.index(databases.new())
    try:
        assert dump_db(ix.engine) == dump_db(fresh.engine)
    finally:
        fresh.close()


@pytest.mark.parametrize(
    "window,longer", [(128, True), (128, False), (4, True)], ids=["journal", "shorter-branch", "below-journal"]
)
def test_reorg_equals_fresh_index(fresh_system: Any, databases: Any, dump_db: Any, window: int, longer: bool) -> None:
    system = fresh_system
    s = system.scenario
    s.setup()
    s.issue(3)
    s.trade(8)
    ix = system.index(databases.new(), reorg_window=window, batch_blocks=4)
    try:
        snapshot = system.rpc("evm_snapshot")
        _branch(system, seed=100, steps=20, settle=True)  # branch A, indexed
        ix.sync()
        a_block = ix.checkpoint()["block_number"]
        assert system.rpc("evm_revert", snapshot)
        # branch B: other operations; shorter than A when `longer` is false
        _branch(system, seed=200, steps=25 if longer else 2, settle=longer)
        head = s.w3.eth.block_number
        assert (head > a_block) == longer
        if window < 8:
            # below the journal: refused, nothing emptied; only an explicit reset re-indexes
            with pytest.raises(DeepReorg):
                ix.sync()
            assert ix.checkpoint()["block_number"] == a_block
            with ix.engine.begin() as conn:
                store.truncate_all(conn)  # what `python -m indexer reset --yes` does
        ix.sync()
        while ix.checkpoint()["block_number"] != head:  # a reorg step returns before catching up
            ix.sync()
        assert ix.reorgs >= 1 or window < 8
        assert_matches_chain_and_fresh_index(ix, system, databases, dump_db)
    finally:
        ix.close()


def test_anvil_reorg_equals_fresh_index(fresh_system: Any, databases: Any, dump_db: Any) -> None:
    """anvil_reorg replaces the newest blocks (their transactions dropped, another one mined)."""
    system = fresh_system
    s = system.scenario
    s.setup()
    s.issue(3)
    s.trade(10)
    ix = system.index(databases.new())
    try:
        before = ix.checkpoint()
        data = s.currency.functions.mint(s.suppliers[0], 12_345)._encode_transaction_data()
        replacement = {"from": s.clearing, "to": s.currency.address, "data": data, "gasPrice": "0x0"}
        assert system.rpc("anvil_reorg", 6, [[replacement, 2]]) is None
        assert "0x" + bytes(s.w3.eth.get_block(before["block_number"])["hash"]).hex() != before["block_hash"]
        ix.sync()
        ix.sync()
        assert ix.reorgs == 1
        assert ix.checkpoint()["block_number"] == s.w3.eth.block_number
        assert_matches_chain_and_fresh_index(ix, system, databases, dump_db)
    finally:
        ix.close()
