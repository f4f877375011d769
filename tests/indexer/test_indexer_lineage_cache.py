"""The auditor API's lineage keeper (`indexer/api/lineage_cache.py`): a kept tree is served only at
the stamp it was built at, so the lineage always equals one built from scratch, through changes of
the certificate's holdings and reorgs (PostgreSQL: the path that keeps trees); the keeper's bound."""

from __future__ import annotations

import random
from typing import Any

import pytest
from fastapi.testclient import TestClient
from hypothesis import given
from hypothesis import strategies as st

from indexer import reports
from indexer.api.deps import json_response
from indexer.api.lineage_cache import ENTRY_BYTES, LineageCache
from indexer.api.main import create_app
from indexer.settings import Settings
from scf_core.apikeys import hash_key

KEY = "auditor-test-key"


@given(st.lists(st.tuples(st.integers(0, 5), st.integers(0, 3), st.integers(0, 400)), max_size=60))
def test_keeps_the_newest_tree_per_certificate_within_the_bound(puts: list[tuple[int, int, int]]) -> None:
    cache = LineageCache(1000)
    for cert, stamp, size in puts:
        tree = bytes(size)
        cache.put(cert, stamp, tree)
        assert cache.get(cert, stamp) == tree  # the newest is kept: it fits alone (size + entry <= bound)
        assert cache.get(cert, stamp + 1) is None  # never served at another stamp
        kept = [(c, s, t) for c, (s, t) in cache._trees.items()]
        assert cache.size_bytes == sum(len(t) + ENTRY_BYTES for _, _, t in kept) <= 1000
    assert LineageCache(0).get(1, 1) is None
    none = LineageCache(0)
    none.put(1, 1, b"x")
    assert none.get(1, 1) is None and none.size_bytes == 0


def _lineages(client: TestClient, ix: Any) -> None:
    """Every certificate's lineage through the API equals the document built from scratch."""
    certs = client.get("/v1/certificates", params={"limit": 1000}).json()["items"]
    assert certs
    for cert in certs:
        resp = client.get(f"/v1/certificates/{cert['id']}/lineage")
        assert resp.status_code == 200, resp.text
        body = resp.json()
        with ix.engine.connect() as conn:
            tree = {**reports.lineage(conn, cert["id"]), **{k: body[k] for k in ("as_of_block", "as_of_time")}}
        assert resp.content == json_response(tree).body, cert["id"]


def test_kept_lineages_follow_changes_and_reorgs(fresh_system: Any, databases: Any, monkeypatch: Any) -> None:
    if databases.backend != "postgres":
        pytest.skip("trees are kept on PostgreSQL only (SQLite builds each lineage)")
    built: list[int] = []
    build = reports.lineage_tree_json
    monkeypatch.setattr(reports, "lineage_tree_json", lambda conn, cid: built.append(cid) or build(conn, cid))
    system = fresh_system
    s = system.scenario
    s.setup()
    s.issue(3)
    s.trade(10)
    ix = system.index(databases.new())
    app = create_app(Settings(database_url=ix.engine.url.render_as_string(hide_password=False),
                              auditor_key_hashes=hash_key(KEY)))
    try:
        with TestClient(app, headers={"X-API-Key": KEY}) as client:
            _lineages(client, ix)
            first = len(built)
            assert first >= 3
            _lineages(client, ix)
            assert len(built) == first  # unchanged: every tree served as kept
            snapshot = system.rpc("evm_snapshot")
            s.rng = random.Random(5)
            s.trade(12)  # some certificates' holdings change
            ix.sync()
            _lineages(client, ix)
            assert len(built) > first
            assert system.rpc("evm_revert", snapshot)  # the trades never happened: another branch
            s.rng = random.Random(6)
            s.trade(14)
            ix.sync()
            while ix.checkpoint()["block_number"] != s.w3.eth.block_number:
                ix.sync()
            assert ix.reorgs >= 1
            _lineages(client, ix)
            # the same block number on two branches, each changing the same certificate: told apart
            # by the block's hash (the stamp's number alone would serve branch A's tree on branch B)
            tid, h = next((t, h) for t, h in s._live() if h["value"] >= 3 and not h["frozen"])
            to = next(a for a in s.suppliers + s.factors if a != h["owner"])
            snapshot = system.rpc("evm_snapshot")
            assert s.try_send(s.token.functions.splitTransfer(tid, to, 1, b"\x01" * 32), h["owner"])
            ix.sync()
            _lineages(client, ix)
            a_block = ix.checkpoint()["block_number"]
            assert system.rpc("evm_revert", snapshot)
            assert s.try_send(s.token.functions.splitTransfer(tid, to, 2, b"\x02" * 32), h["owner"])
            assert s.w3.eth.block_number == a_block
            ix.sync()
            while ix.checkpoint()["block_hash"] != "0x" + bytes(s.w3.eth.get_block("latest")["hash"]).hex():
                ix.sync()
            _lineages(client, ix)
            assert client.get("/v1/certificates/999999/lineage").status_code == 404
    finally:
        app.state.engine.dispose()
        ix.close()
