"""The auditor API's lineage keeper (`indexer/api/lineage_cache.py`): a kept tree is served only at
the stamp it was built at, so the lineage always equals one built from scratch, through changes of
the certificate's holdings and reorgs (PostgreSQL: the path that keeps trees); the keeper's bound."""

from __future__ import annotations

import json
import random
from decimal import Decimal
from typing import Any

import pytest
from fastapi.testclient import TestClient
from hypothesis import given
from hypothesis import strategies as st

from indexer import reports
from indexer.api.deps import json_response
from indexer.api.lineage_cache import LineageCache, cost
from indexer.api.main import create_app
from indexer.settings import Settings
from scf_core.apikeys import hash_key

KEY = "auditor-test-key"


def _tree(size: int) -> reports.LineageTree:
    return reports.LineageTree.build([(1, None, "x" * size, 0, 1)])


@given(st.lists(st.tuples(st.integers(0, 5), st.integers(0, 3), st.integers(0, 400)), max_size=60))
def test_keeps_the_newest_tree_per_certificate_within_the_bound(puts: list[tuple[int, int, int]]) -> None:
    bound = 3000
    cache = LineageCache(bound)
    for cert, stamp, size in puts:
        tree = _tree(size)
        doc = tree.encode()
        cache.put(cert, stamp, tree, doc)
        assert cache.get(cert, stamp) == doc  # the newest is kept: it fits alone (its cost <= bound)
        assert cache.get(cert, stamp + 1) is None  # never served at another stamp
        kept = list(cache._trees.values())
        assert cache.size_bytes == sum(cost(t, e) for _, t, e in kept) <= bound
    none = LineageCache(0)
    none.put(1, 1, _tree(1), b"x")
    assert none.get(1, 1) is None and none.size_bytes == 0


# a holding's live value as PostgreSQL's numeric gives it (Decimal) or an int, up to uint256's top
VALUES = st.integers(0, 2**256 - 1).flatmap(lambda v: st.sampled_from([v, Decimal(v)]))


def _node(token: int, version: int) -> str:
    return f'{{"token_id":{token},"v":{version},"children":['


@given(st.data())
def test_a_tree_patched_with_its_changed_holdings_equals_one_built_from_them_all(data: st.DataObject) -> None:
    """`LineageTree.updated`, twice, with the rows of changed and new holdings (new ones: higher
    token ids; few: put in place, many: laid out again) writes the same document as a tree built
    from every row."""
    def rows(n: int, first: int, parents: list[int]) -> list[tuple[Any, ...]]:
        out = []
        for token in range(first, first + n):
            parent = data.draw(st.sampled_from([None, *parents, 10_000]))  # 10,000: another certificate's
            value, tier = data.draw(VALUES), data.draw(st.integers(1, 9))
            out.append((token, parent, _node(token, 0), value, tier))
            parents.append(token)
        return out

    parents: list[int] = []
    old = rows(data.draw(st.integers(0, 30)), 1, parents)
    final = {r[0]: r for r in old}
    tree = reports.LineageTree.build(old)
    for version in (1, 2):
        changed = sorted(data.draw(st.sets(st.sampled_from(sorted(final)))) if final else [])
        patch = [(t, final[t][1], _node(t, version), data.draw(VALUES), final[t][4]) for t in changed]
        new = rows(data.draw(st.integers(0, 2 * reports.LineageTree.NEW_IN_PLACE)), len(final) + 1, parents)
        final.update({r[0]: r for r in patch + new})
        tree = tree.updated(patch + new)
        assert tree.encode() == reports.LineageTree.build(list(final.values())).encode()
    doc = json.loads(b"{" + tree.encode() + b"}")
    assert doc["holdings"] == len(final) and doc["live_value"] == sum(int(r[3]) for r in final.values())


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
    built: list[int] = []  # certificates built from scratch
    patched: list[int] = []  # certificates whose changed holdings were read into the kept tree
    nodes = reports.lineage_nodes
    monkeypatch.setattr(reports, "lineage_nodes", lambda conn, cid, tokens=None: (
        (built if tokens is None else patched).append(cid) or nodes(conn, cid, tokens)))
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
            s.trade(12)  # some certificates' holdings change: read into their kept trees
            ix.sync()
            _lineages(client, ix)
            assert len(built) == first and patched
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
            before = len(built)
            _lineages(client, ix)
            assert len(built) > before  # its kept tree's block was replaced: built again, not patched
            assert client.get("/v1/certificates/999999/lineage").status_code == 404
    finally:
        app.state.engine.dispose()
        ix.close()
